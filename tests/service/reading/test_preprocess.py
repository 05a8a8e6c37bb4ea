import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps

from service.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia
from service.reading import mnist_from_gray, mnist_from_image
from service.reading.background import clean_level
from service.reading.decode import decode_image, orient, shrink
from service.reading.fit import center_by_mass, fit_box, full_strength
from service.reading.gray import to_grayscale
from service.reading.imageops import Box
from service.reading.pieces import border_lines, crop_to_ink, digit_extent, label_runs, runs
from service.reading.tuning import WORKING_SIZE
from tests.images import encode, tight

LIMIT = 4_000_000


def tight_crop(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit cropped to its pixels above 30, uint8, as training/datasets/handwriting.py's tight crop."""
    return tight(digit, 30).astype(np.uint8)


def _as_mnist(digit: np.ndarray) -> np.ndarray:
    return digit.astype(np.float32) / 255.0


def _paper_photo(digit: np.ndarray, scale: int = 8) -> Image.Image:
    """The digit as dark ink on light paper, much larger than 28x28."""
    big = Image.fromarray(255 - digit).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    return big


def _close(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two [0, 1] images."""
    return float(np.abs(a - b).mean())


def test_mnist_digit_as_png_comes_through_unchanged(digit):
    out = mnist_from_image(encode(Image.fromarray(digit)), LIMIT)
    assert out.shape == (28, 28)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, _as_mnist(digit), atol=1e-6)


def test_most_mnist_digits_are_bit_for_bit_unchanged(mnist_sample):
    images, _ = mnist_sample
    unchanged = [
        np.allclose(mnist_from_image(encode(Image.fromarray(x)), LIMIT), x / 255.0, atol=1e-6) for x in images[:200]
    ]
    assert np.mean(unchanged) > 0.8  # the rest move by one pixel where rounding the centre of mass differs


def test_dark_ink_on_white_paper_is_inverted(digit):
    out = mnist_from_image(encode(_paper_photo(digit)), LIMIT)
    assert out[0, 0] == 0.0
    assert out.max() == pytest.approx(1.0)
    assert _close(out, _as_mnist(digit)) < 0.05


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P", "CMYK", "1", "I;16", "I", "F"])
def test_every_image_mode_gives_the_same_digit(digit, mode):
    paper = _paper_photo(digit, scale=4)
    if mode == "1":
        image = paper.point(lambda v: 255 if v > 127 else 0).convert("1")
    elif mode == "I;16":
        image = Image.fromarray(np.asarray(paper).astype(np.uint16) * 257)
        assert image.mode == "I;16"
    elif mode == "I":
        image = Image.fromarray(np.asarray(paper).astype(np.int32) * 257)
    elif mode == "F":
        image = Image.fromarray(np.asarray(paper).astype(np.float32) / 255.0)
    else:
        image = paper.convert(mode)
    fmt = {"CMYK": "JPEG", "F": "TIFF", "I": "TIFF"}.get(mode, "PNG")
    options = {"quality": 95} if fmt == "JPEG" else {}
    out = mnist_from_image(encode(image, fmt, **options), LIMIT)
    assert _close(out, _as_mnist(digit)) < (0.08 if mode == "1" else 0.05)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"])
def test_every_format_decodes(digit, fmt):
    image = _paper_photo(digit, scale=3).convert("RGB")
    out = mnist_from_image(encode(image, fmt), LIMIT)
    assert _close(out, _as_mnist(digit)) < 0.06


def test_transparent_canvas_with_dark_strokes_is_flattened_onto_white(digit):
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)  # black, fully transparent
    alpha = np.asarray(Image.fromarray(digit).resize((280, 280), Image.Resampling.BICUBIC))
    rgba[..., 3] = alpha  # strokes: black ink, opaque where the digit is
    out = mnist_from_image(encode(Image.fromarray(rgba, "RGBA")), LIMIT)
    assert _close(out, _as_mnist(digit)) < 0.05


def test_transparent_canvas_with_white_strokes_is_flattened_onto_black(digit):
    rgba = np.full((280, 280, 4), 255, dtype=np.uint8)  # white, fully transparent
    rgba[..., 3] = np.asarray(Image.fromarray(digit).resize((280, 280), Image.Resampling.BICUBIC))
    out = mnist_from_image(encode(Image.fromarray(rgba, "RGBA")), LIMIT)
    assert _close(out, _as_mnist(digit)) < 0.05


def test_gif_drawing_on_a_transparent_background(digit):
    strokes = np.asarray(Image.fromarray(digit).resize((140, 140), Image.Resampling.BICUBIC)) > 100
    indexed = np.where(strokes, 1, 0).astype(np.uint8)  # palette 0: transparent white, 1: black ink
    image = Image.fromarray(indexed, "P")
    image.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    out = mnist_from_image(encode(image, "GIF", transparency=0, optimize=False), LIMIT)
    assert _close(out, _as_mnist(digit)) < 0.08


@pytest.mark.parametrize(("orientation", "rotate"), [(3, 180), (6, 90), (8, 270)])
def test_exif_orientation_is_honoured(digit, orientation, rotate):
    upright = _paper_photo(digit, scale=4).convert("RGB")
    stored = upright.rotate(rotate, expand=True)  # as the camera's sensor stored it
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = mnist_from_image(encode(stored, "JPEG", exif=exif.tobytes(), quality=95), LIMIT)
    assert _close(out, _as_mnist(digit)) < 0.05


@pytest.mark.parametrize("orientation", [None, 1, 3, 6])
def test_orient_turns_only_what_exif_says_is_turned_and_gives_the_same_pixels_as_pillow(digit, orientation):
    stored = Image.fromarray(digit).resize((40, 30))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image = decode_image(encode(stored, "PNG", exif=exif.tobytes()), LIMIT)
    turned = orient(image)
    assert np.array_equal(np.asarray(turned), np.asarray(ImageOps.exif_transpose(image)))
    assert (turned is image) == (orientation in (None, 1))  # upright: not copied


def test_small_off_centre_digit_is_scaled_to_20px_and_centred_by_mass():
    canvas = np.zeros((200, 300), dtype=np.uint8)
    canvas[20:60, 250:260] = 255  # a thin vertical bar, 40 px tall, far in a corner
    out = mnist_from_image(encode(Image.fromarray(canvas)), LIMIT)
    rows, _cols = np.nonzero(out > 0.05)
    assert rows.max() - rows.min() + 1 == 20
    com = [(np.indices(out.shape)[axis] * out).sum() / out.sum() for axis in (0, 1)]
    assert com == pytest.approx([14.0, 14.0], abs=0.75)


def test_wide_digit_keeps_its_aspect_ratio():
    digit = fit_box(np.full((10, 40), 255.0, dtype=np.float32))
    assert digit.shape == (5, 20)


def test_center_by_mass_puts_the_mass_at_14_14():
    blob = np.zeros((5, 5), dtype=np.float32)
    blob[4, 4] = 1.0
    field = center_by_mass(blob)
    assert np.argwhere(field == 1.0).tolist() == [[14, 14]]


def test_crop_keeps_faint_edges_but_not_far_noise():
    ink = np.zeros((50, 50), dtype=np.float32)
    ink[20:30, 20:25] = 255.0
    ink[19, 20:25] = 3.0  # the faint anti-aliased edge of the stroke
    ink[2, 2] = 8.0  # a compression speck far away
    assert crop_to_ink(ink).shape == (11, 5)


def test_paper_texture_does_not_count_as_ink(digit):
    rng = np.random.default_rng(0)
    paper = np.asarray(_paper_photo(digit, scale=4), dtype=np.float32) * 0.75 + 40  # grey paper, dark ink
    noisy = np.clip(paper + rng.normal(0, 6, paper.shape), 0, 255).astype(np.uint8)
    out = mnist_from_image(encode(Image.fromarray(noisy)), LIMIT)
    assert _close(out, _as_mnist(digit)) < 0.06


@pytest.mark.parametrize("value", [0, 255, 128])
def test_blank_image_is_a_clear_422(value):
    with pytest.raises(InvalidInput, match="no digit"):
        mnist_from_image(encode(Image.new("L", (50, 50), value)), LIMIT)


def test_garbage_and_truncated_images_are_415(digit):
    with pytest.raises(UnsupportedMedia):
        mnist_from_image(b"this is not an image", LIMIT)
    png = encode(_paper_photo(digit))
    with pytest.raises(UnsupportedMedia):
        mnist_from_image(png[: len(png) // 2], LIMIT)


def test_empty_body_is_422():
    with pytest.raises(InvalidInput, match="empty"):
        decode_image(b"", LIMIT)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_decompression_bomb_is_refused_from_its_header_before_decoding():
    # A 100,000 x 100,000 PNG header with almost no data: decoding it would need 10 GB.
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + _png_chunk(b"IEND", b"")
    )
    with pytest.raises(PayloadTooLarge, match="pixels"):
        decode_image(bomb, LIMIT)


def test_grayscale_of_16_bit_keeps_the_full_range():
    image = Image.fromarray(np.array([[0, 65535]], dtype=np.uint16))
    np.testing.assert_allclose(to_grayscale(image), [[0.0, 255.0]])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_phone_sized_photo_is_reduced_before_the_pixel_work_and_reads_the_same(digit, fmt):
    """A 3000x4000 photo is decoded at a fraction of its size (JPEG) or reduced right after (others)."""
    photo = Image.fromarray(255 - digit).resize((3000, 4000), Image.Resampling.BICUBIC).convert("RGB")
    data = encode(photo, fmt)
    decoded = decode_image(data, 25_000_000)
    if fmt == "JPEG":
        assert WORKING_SIZE <= max(decoded.size) < 2 * WORKING_SIZE
        assert decoded.mode == "L"  # luma only
    assert max(shrink(decoded).size) < 2 * WORKING_SIZE
    full_size = mnist_from_gray(to_grayscale(Image.open(io.BytesIO(data))))
    assert _close(mnist_from_image(data, 25_000_000), full_size) < 0.02


def test_small_images_are_not_resampled(digit):
    image = Image.fromarray(digit)
    assert shrink(image) is image


def test_a_small_dark_digit_in_the_corner_of_a_light_gradient_is_found(digit):
    """Uneven light used to be read as ink (then: "no ink found", or the wrong crop)."""
    size = 400
    gradient = np.tile(np.linspace(250, 140, size, dtype=np.float32), (size, 1))
    small = np.asarray(Image.fromarray(digit).resize((56, 56), Image.Resampling.BICUBIC), dtype=np.float32)
    photo = gradient.copy()
    photo[310:366, 320:376] = np.minimum(photo[310:366, 320:376], 255 - small * 0.9)
    flat = np.full((size, size), 250, dtype=np.float32)
    flat[310:366, 320:376] = np.minimum(flat[310:366, 320:376], 255 - small * 0.9)
    as_png = [encode(Image.fromarray(image.astype(np.uint8)), "PNG") for image in (photo, flat)]
    on_gradient, on_flat = (mnist_from_image(data, LIMIT) for data in as_png)  # before: "no ink found"
    assert _close(on_gradient, on_flat) < 0.08
    rows = np.flatnonzero(on_gradient.any(axis=1))
    assert 19 <= rows[-1] - rows[0] + 1 <= 21  # the digit itself fills the 20 px box: no gradient in the crop
    assert on_gradient.sum() > 0.6 * on_flat.sum()  # the strokes are kept, a little thinner


def test_a_sheet_edge_along_the_border_does_not_widen_the_crop(digit):
    """A photographed sheet's edge runs a few pixels inside the image border: it is not part of the digit."""
    size = 300
    paper = np.full((size, size), 235, dtype=np.float32)
    paper[110:190, 110:190] = np.minimum(
        paper[110:190, 110:190],
        255 - np.asarray(Image.fromarray(digit).resize((80, 80), Image.Resampling.BICUBIC), dtype=np.float32) * 0.8,
    )
    with_edge = paper.copy()
    with_edge[:, 4:7] = 150  # the sheet's edge, the whole height of the image
    alone, edged = (
        mnist_from_image(encode(Image.fromarray(image.astype(np.uint8)), "PNG"), LIMIT) for image in (paper, with_edge)
    )
    assert _close(alone, edged) < 0.01


def _labels(mask: np.ndarray) -> np.ndarray:
    """The component of every True pixel, as an image (-1 elsewhere)."""
    rows, starts, ends = runs(mask)
    labels = label_runs(rows, starts, ends)
    image = np.full(mask.shape, -1)
    for row, start, end, label in zip(rows, starts, ends, labels, strict=True):
        image[row, start:end] = label
    return image


def test_pieces_that_touch_even_at_a_corner_are_one_and_the_rest_are_apart():
    mask = np.zeros((8, 12), dtype=bool)
    mask[0:3, 0:2] = True  # an L: two runs joined below
    mask[3, 2] = True  # touches the L only at a corner
    mask[0, 5:9] = True  # a bar above a U: the U's arms meet it from two runs
    mask[1:4, 5] = mask[1:4, 8] = True
    mask[4, 5:9] = True
    mask[7, 11] = True  # alone
    labels = _labels(mask)
    assert labels[0, 0] == labels[3, 2] != labels[0, 5]
    assert len({labels[r, c] for r, c in zip(*np.nonzero(mask[:, 4:]), strict=True)}) == 2  # the U+bar, the dot
    assert len(set(labels[mask].tolist())) == 3
    assert (_labels(np.zeros((4, 4), dtype=bool)) == -1).all()


def _strong(ink: np.ndarray) -> np.ndarray:
    return ink > 0


def test_the_digit_is_its_heaviest_piece_and_a_smudge_far_from_it_is_left_out():
    ink = np.zeros((200, 200), dtype=np.float32)
    ink[60:140, 90:100] = 255.0  # the digit: a stroke 80 px tall
    ink[5:20, 170:190] = 120.0  # a smudge in the corner, far from it
    assert digit_extent(_strong(ink), ink) == Box(60, 140, 90, 100)


def test_pieces_close_to_the_digit_are_part_of_it():
    """A 5 whose flag does not touch its body, a dashed stroke: the pieces near the digit belong to it."""
    ink = np.zeros((200, 200), dtype=np.float32)
    ink[60:140, 90:100] = 255.0
    ink[60:66, 106:130] = 255.0  # the flag, 6 px away
    for top in range(150, 190, 10):  # a dashed tail, each dash 4 px from the next
        ink[top : top + 6, 90:96] = 200.0
    assert digit_extent(_strong(ink), ink) == Box(60, 186, 90, 130)


def test_a_photo_of_a_digit_beside_a_dark_smudge_crops_the_digit(digit):
    size = 400
    paper = np.full((size, size), 230, dtype=np.float32)
    small = np.asarray(Image.fromarray(digit).resize((84, 84), Image.Resampling.BICUBIC), dtype=np.float32)
    paper[40:124, 60:144] = np.minimum(paper[40:124, 60:144], 255 - small)
    alone = mnist_from_image(encode(Image.fromarray(paper.astype(np.uint8))), LIMIT)
    paper[300:330, 280:390] = 150  # a shadow, lighter than the ink and far from it
    smudged = mnist_from_image(encode(Image.fromarray(paper.astype(np.uint8))), LIMIT)
    assert _close(alone, smudged) < 0.01
    assert _close(alone, _as_mnist(digit)) < 0.06


def test_faint_strokes_are_brought_to_full_strength_and_full_ones_are_left_alone(digit):
    full = digit.astype(np.float32)
    np.testing.assert_array_equal(full_strength(full), full)
    faint = full_strength(full * 0.3)
    assert _close(faint / 255, full / 255) < 0.02
    assert faint.max() == 255.0
    assert not full_strength(np.zeros((5, 5), dtype=np.float32)).any()


def test_faint_grey_ink_on_grainy_paper_reads_like_the_clean_digit(digit):
    """Pencil on paper: ink only 35 levels darker than the paper, grain of 5, and uneven light."""
    rng = np.random.default_rng(1)
    size = 320
    light = np.tile(np.linspace(-12, 12, size, dtype=np.float32), (size, 1))
    mask = np.asarray(Image.fromarray(digit).resize((160, 160), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    paper = 215 + light + rng.normal(0, 5, (size, size))
    paper[80:240, 80:240] -= 35 * mask
    out = mnist_from_image(encode(Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8))), LIMIT)
    assert _close(out, _as_mnist(digit)) < 0.08
    assert out.max() > 0.9  # at full strength, as the MNIST digit is


@pytest.mark.parametrize("level", [0, 200])
def test_grain_alone_is_still_no_digit(level):
    rng = np.random.default_rng(2)
    grain = np.clip(level + 20 + rng.normal(0, 5, (300, 300)), 0, 255).astype(np.uint8)
    with pytest.raises(InvalidInput, match="no digit"):
        mnist_from_image(encode(Image.fromarray(grain)), LIMIT)


def test_dashes_along_a_side_are_a_sheets_edge_and_a_digit_near_the_border_is_not():
    grid = (160, 160)
    # Four dashes 2 cells thick along the right side (rows 10-150), a thick stroke near the left side,
    # and a short thin dash alone near the top.
    boxes = [(10, 40, 150, 152), (50, 80, 150, 152), (90, 120, 150, 152), (125, 150, 150, 152)]
    boxes += [(40, 100, 5, 17), (3, 5, 60, 75)]
    area = np.array([60, 60, 60, 50, 600, 30])
    box = [np.array(side) for side in zip(*boxes, strict=True)]
    assert border_lines(box, area, grid).tolist() == [True, True, True, True, False, False]
    # One dash alone does not make an edge.
    assert not border_lines([b[:1] for b in box], area[:1], grid).any()


def test_a_sheets_edge_broken_into_dashes_does_not_become_the_digit(digit):
    """The edge of a photographed sheet near the image's side, darker than a faint digit and broken by grain:
    each dash outweighs the digit, and none is as long as a third of the side."""
    rng = np.random.default_rng(3)
    size = 320
    paper = 225 + rng.normal(0, 3, (size, size))
    small = np.asarray(Image.fromarray(digit).resize((60, 60), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    paper[100:160, 80:140] -= 40 * small
    alone = mnist_from_image(encode(Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8))), LIMIT)
    for top in range(10, 300, 50):  # dashes 40 px long and 4 px wide, 25 px in from the right side
        paper[top : top + 40, 291:295] -= 90
    edged = mnist_from_image(encode(Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8))), LIMIT)
    # The same digit, a little thinner: the darker dashes set the ink's range, and so its noise floor.
    assert _close(alone, edged) < 0.04
    assert _close(edged, _as_mnist(digit)) < 0.08


def _reference(digit: np.ndarray) -> np.ndarray:
    """What the pipeline makes of the clean 28x28 digit itself."""
    return mnist_from_image(encode(Image.fromarray(255 - digit)), LIMIT)


def test_a_clean_level_is_read_off_most_of_the_border_and_a_photo_has_none(digit):
    tight = 255 - tight_crop(digit).astype(np.float32)
    assert clean_level(tight) == 255.0  # the strokes touch the frame, the rest of the border is paper
    rng = np.random.default_rng(4)
    grainy = np.full((100, 100), 220.0) + rng.normal(0, 4, (100, 100))
    grainy[:3], grainy[-3:], grainy[:, :3], grainy[:, -3:] = 200.0, 200.0, 200.0, 200.0  # a flat fill around it
    assert clean_level(grainy) is None


@pytest.mark.parametrize("scale", [1, 4, 10])
@pytest.mark.parametrize("label", [0, 7, 8])
def test_a_digit_cropped_tight_keeps_the_strokes_that_touch_the_frame(mnist_sample, label, scale):
    """A 0 cropped to its ink used to lose the arcs touching the frame and be read as a 1."""
    images, labels = mnist_sample
    digit = images[np.flatnonzero(labels == label)[0]]
    cropped = Image.fromarray(255 - tight_crop(digit))
    cropped = cropped.resize((cropped.width * scale, cropped.height * scale), Image.Resampling.BILINEAR)
    out = mnist_from_image(encode(cropped), LIMIT)
    assert _close(out, _reference(digit)) < 0.06
    assert out.sum() > 0.8 * _reference(digit).sum()


@pytest.mark.parametrize("label", [0, 7, 8])
def test_a_photo_zoomed_onto_the_digit_keeps_its_wide_strokes(mnist_sample, label):
    """Grainy paper, the digit touching the frame, strokes a fifth of the image wide: none is background."""
    images, labels = mnist_sample
    digit = images[np.flatnonzero(labels == label)[0]]
    rng = np.random.default_rng(5)
    bold = np.asarray(Image.fromarray(tight_crop(digit)).resize((120, 160), Image.Resampling.BICUBIC), dtype=np.float32)
    bold = np.asarray(Image.fromarray(bold.astype(np.uint8)).filter(ImageFilter.MaxFilter(9)), dtype=np.float32)
    photo = np.clip(215 - 0.7 * bold + rng.normal(0, 4, bold.shape), 0, 255).astype(np.uint8)
    out = mnist_from_image(encode(Image.fromarray(photo), "JPEG", quality=85), LIMIT)
    clean = mnist_from_image(encode(Image.fromarray(255 - bold.astype(np.uint8))), LIMIT)
    assert out.sum() > 0.8 * clean.sum()  # the first look alone kept 0.42 (0), 0.78 (7) and 0.61 (8) of it
    assert _close(out, clean) < 0.08


def test_a_bold_blurred_pen_is_not_hollowed_out(digit):
    bold = Image.fromarray(255 - digit).filter(ImageFilter.MinFilter(3)).resize((112, 112), Image.Resampling.BILINEAR)
    out = mnist_from_image(encode(bold.filter(ImageFilter.GaussianBlur(2))), LIMIT)
    reference = mnist_from_image(encode(Image.fromarray(255 - digit).filter(ImageFilter.MinFilter(3))), LIMIT)
    assert _close(out, reference) < 0.08
