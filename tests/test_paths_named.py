"""Every repository path the docs, the README and the code's docstrings and comments name exists, and every relative
link in the Markdown leads somewhere: a file that moves takes its mentions with it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = ("bench", "deploy", "docs", "eval", "examples", "models", "requirements", "service", "support", "tests", "tools",
       "training", ".ci")  # fmt: skip
SUFFIXES = "py|md|yaml|yml|txt|in|json|png|proto|sh|toml|npz|cfg|html|js|css|conf"
# A path from the repository root to a file: a top-level folder, then no wildcard or placeholder on the way.
NAMED = re.compile(rf"(?<![\w./-])((?:{'|'.join(map(re.escape, TOP))})/[\w./-]*\w\.(?:{SUFFIXES}))\b")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / name for name in listed.stdout.split()]


def test_every_path_named_exists():
    missing = {
        f"{path.relative_to(ROOT)}: {named}"
        for path in _tracked("*.py", "*.md", "*.yaml", "*.yml", "*.toml", "Makefile", "Dockerfile")
        if path != Path(__file__).resolve()  # its own examples below name paths that are not there
        for named in NAMED.findall(path.read_text(errors="replace"))
        if not (ROOT / named).exists()
    }
    assert not missing, sorted(missing)


def test_every_relative_link_in_the_markdown_leads_somewhere():
    broken = {
        f"{path.relative_to(ROOT)}: {target}"
        for path in _tracked("*.md")
        for target in LINK.findall(path.read_text())
        if not target.startswith(("http://", "https://", "mailto:")) and not (path.parent / target).exists()
    }
    assert not broken, sorted(broken)


def test_the_pattern_finds_what_it_should():
    text = "see service/workers.py, (training/learn/gate.py) and `docs/api.md`; not feedback-*.sqlite or DIR/7/*.png"
    assert NAMED.findall(text) == ["service/workers.py", "training/learn/gate.py", "docs/api.md"]
