"""The typefaces of the development set: free fonts from Debian packages, none of them DejaVu or Liberation.

The croscore fonts (Arimo, Tinos, Cousine) are left out on purpose: Liberation 2 is drawn from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

APT_PACKAGES = (
    "fonts-freefont-ttf",
    "fonts-urw-base35",
    "fonts-roboto-unhinted",
    "fonts-open-sans",
    "fonts-lato",
    "fonts-crosextra-carlito",
    "fonts-crosextra-caladea",
    "fonts-texgyre",
    "fonts-cantarell",
    "fonts-noto-mono",
    "fonts-inconsolata",
)
SEARCH_ROOTS = (
    Path("/usr/share/fonts"),
    Path("/usr/share/texmf/fonts/opentype"),
    Path("/usr/local/share/fonts"),
)
FORBIDDEN = ("dejavu", "liberation", "arimo", "tinos", "cousine")

# file name -> style; every style is drawn on equally often where it is asked for.
CATALOGUE: dict[str, str] = {
    # sans, regular and light
    "FreeSans.ttf": "regular",
    "NimbusSans-Regular.otf": "regular",
    "Roboto-Regular.ttf": "regular",
    "Roboto-Light.ttf": "regular",
    "OpenSans-Regular.ttf": "regular",
    "OpenSans-Light.ttf": "regular",
    "Lato-Regular.ttf": "regular",
    "Lato-Light.ttf": "regular",
    "Carlito-Regular.ttf": "regular",
    "Cantarell-Regular.otf": "regular",
    "texgyreheros-regular.otf": "regular",
    "texgyreadventor-regular.otf": "regular",
    "URWGothic-Book.otf": "regular",
    # bold
    "FreeSansBold.ttf": "bold",
    "NimbusSans-Bold.otf": "bold",
    "Roboto-Bold.ttf": "bold",
    "Roboto-Black.ttf": "bold",
    "OpenSans-Bold.ttf": "bold",
    "OpenSans-ExtraBold.ttf": "bold",
    "Lato-Bold.ttf": "bold",
    "Lato-Black.ttf": "bold",
    "Carlito-Bold.ttf": "bold",
    "Cantarell-ExtraBold.otf": "bold",
    "URWGothic-Demi.otf": "bold",
    "Caladea-Bold.ttf": "bold",
    "texgyreadventor-bold.otf": "bold",
    # italic and oblique
    "FreeSansOblique.ttf": "italic",
    "NimbusSans-Italic.otf": "italic",
    "Roboto-Italic.ttf": "italic",
    "Roboto-BoldItalic.ttf": "italic",
    "OpenSans-Italic.ttf": "italic",
    "Lato-Italic.ttf": "italic",
    "Lato-BoldItalic.ttf": "italic",
    "Carlito-Italic.ttf": "italic",
    "Caladea-Italic.ttf": "italic",
    "FreeSerifItalic.ttf": "italic",
    "NimbusRoman-Italic.otf": "italic",
    "P052-Italic.otf": "italic",
    "C059-Italic.otf": "italic",
    "URWBookman-LightItalic.otf": "italic",
    "texgyrepagella-italic.otf": "italic",
    "Z003-MediumItalic.otf": "italic",
    # condensed
    "RobotoCondensed-Regular.ttf": "condensed",
    "RobotoCondensed-Bold.ttf": "condensed",
    "RobotoCondensed-Light.ttf": "condensed",
    "OpenSans-CondBold.ttf": "condensed",
    "OpenSans-CondLight.ttf": "condensed",
    "NimbusSansNarrow-Regular.otf": "condensed",
    "NimbusSansNarrow-Bold.otf": "condensed",
    "texgyreheroscn-regular.otf": "condensed",
    "texgyreheroscn-bold.otf": "condensed",
    # monospaced
    "FreeMono.ttf": "mono",
    "FreeMonoBold.ttf": "mono",
    "NimbusMonoPS-Regular.otf": "mono",
    "NimbusMonoPS-Bold.otf": "mono",
    "NotoMono-Regular.ttf": "mono",
    "NotoSansMono-Bold.ttf": "mono",
    "Inconsolata.otf": "mono",
    "texgyrecursor-regular.otf": "mono",
    # serif
    "FreeSerif.ttf": "serif",
    "FreeSerifBold.ttf": "serif",
    "NimbusRoman-Regular.otf": "serif",
    "NimbusRoman-Bold.otf": "serif",
    "P052-Roman.otf": "serif",
    "C059-Roman.otf": "serif",
    "C059-Bold.otf": "serif",
    "URWBookman-Light.otf": "serif",
    "URWBookman-Demi.otf": "serif",
    "Caladea-Regular.ttf": "serif",
    "texgyretermes-regular.otf": "serif",
    "texgyrebonum-regular.otf": "serif",
    "texgyreschola-regular.otf": "serif",
}
STYLES = ("regular", "bold", "italic", "condensed", "mono", "serif")


class FontsMissing(RuntimeError):
    """None of the catalogued fonts is installed."""


@dataclass(frozen=True)
class Fonts:
    """The installed catalogue fonts, by style, in a fixed order."""

    by_style: dict[str, tuple[Path, ...]]

    @property
    def all(self) -> tuple[Path, ...]:
        return tuple(path for style in STYLES for path in self.by_style.get(style, ()))

    def pick(self, rng: np.random.Generator, style: str | None = None, needs: str = "") -> Path:
        """A font of `style` (any style when None or when none of that style is installed) holding `needs`."""
        pool = self.by_style.get(style, ()) if style else ()
        if not pool:
            present = [s for s in STYLES if self.by_style.get(s)]
            pool = self.by_style[present[int(rng.integers(len(present)))]]
        able = [path for path in pool if has_glyphs(path, needs)] or [p for p in self.all if has_glyphs(p, needs)]
        if not able:
            raise FontsMissing(f"no installed font draws {needs!r}")
        return able[int(rng.integers(len(able)))]


@cache
def find_fonts() -> Fonts:
    """The catalogue fonts found under the usual font folders; a clear error naming the packages when none are."""
    found: dict[str, Path] = {}
    for root in SEARCH_ROOTS:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                name = path.name
                if name in CATALOGUE and name not in found and not any(f in str(path).lower() for f in FORBIDDEN):
                    found[name] = path
    by_style: dict[str, list[Path]] = {style: [] for style in STYLES}
    for name, style in CATALOGUE.items():
        if name in found:
            by_style[style].append(found[name])
    if not any(by_style.values()):
        raise FontsMissing(
            "no fonts for the typed images: install them with `apt-get install -y " + " ".join(APT_PACKAGES) + "`"
        )
    return Fonts({style: tuple(paths) for style, paths in by_style.items()})


@cache
def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """The font at `path` in `size` pixels (cached)."""
    return ImageFont.truetype(str(path), size)


@cache
def _glyph(path: Path, char: str) -> bytes:
    face = font(path, 40)
    image = Image.new("L", (80, 80))
    ImageDraw.Draw(image).text((10, 10), char, fill=255, font=face)
    return image.tobytes()


def has_glyphs(path: Path, chars: str) -> bool:
    """Whether the font draws every character of `chars` (not its missing-glyph box, not nothing)."""
    missing = _glyph(path, "\ue0ff")
    for char in set(chars) - {" "}:
        drawn = _glyph(path, char)
        if drawn == missing or not any(drawn):
            return False
    return True
