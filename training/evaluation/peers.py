"""Runs an OCR peer on images from any interpreter (the dev venv's included), off the network.

    from training.evaluation.peers import run_peer
    results = run_peer("tesseract", paths, "line", "0123456789")   # {path: {"text", "seconds", "error"}}

run_peer starts tools/peers/read.py with the PEER's own interpreter (.venv-peers/rapidocr/bin/python,
made by tools/peers/setup.sh; for Tesseract the same one, else Debian's /usr/bin/python3), never the
caller's, inside `unshare -n`: a network namespace with no interface up, so nothing the peer does can
leave the machine. It never falls back to running with the network. ORT_DISABLE_TELEMETRY=1 is set for
the peer. A crash or timeout on one image is an empty text with an error for that image; a peer that
cannot run at all raises PeerError. Needs only the standard library.

From a shell (tools/peers/run.sh calls this):

    python3 -m training.evaluation.peers PEER LISTFILE MODE CHARSET OUT     # RESULTS.json as read.py writes it
    python3 -m training.evaluation.peers --score PEER FOLDER [--limit N] [--mode line] [--charset 0123456789]
        # exact-match share and median seconds on FOLDER/<index>_<text>.<ext>
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENVS = Path(os.environ.get("PEERS_VENV", ROOT / ".venv-peers"))
READ = ROOT / "tools" / "peers" / "read.py"  # what runs inside the peer's own environment
PEERS = ("tesseract", "rapidocr", "easyocr")
MODES = ("line", "lines")
DIGITS = "0123456789"
SEPARATORS = ".,-/:"
PER_IMAGE_TIMEOUT = {"tesseract": 30.0, "rapidocr": 60.0, "easyocr": 60.0}


class PeerError(RuntimeError):
    """The peer could not run at all (not set up, no network namespace, no results)."""


def peer_python(peer: str) -> Path:
    """The peer's own interpreter: EasyOCR's venv (torch is large: it is made only on request), else RapidOCR's."""
    if peer == "easyocr":
        easy = VENVS / "easyocr" / "bin" / "python"
        if easy.exists():
            return easy
        raise PeerError(f"{easy} is missing: run EASYOCR=1 tools/peers/setup.sh first (torch, several GB)")
    venv_python = VENVS / "rapidocr" / "bin" / "python"
    if venv_python.exists():
        return venv_python
    if peer == "tesseract" and Path("/usr/bin/python3").exists():
        return Path("/usr/bin/python3")
    raise PeerError(f"{venv_python} is missing: run tools/peers/setup.sh first")


def _namespace() -> list[str]:
    if shutil.which("unshare") is None:
        raise PeerError("unshare (util-linux) is missing: the peers run only without a network")
    # As root a new network namespace; otherwise a user namespace too (where the kernel allows one).
    return ["unshare", "-n", "--"] if os.geteuid() == 0 else ["unshare", "-r", "-n", "--"]


def _env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    }
    env["ORT_DISABLE_TELEMETRY"] = "1"
    return env


def run_peer(
    peer: str, paths: Iterable[str | Path], mode: str = "line", charset: str = DIGITS, timeout: float | None = None
) -> dict[str, dict]:
    """{path: {"text": str, "seconds": float, "error": str | None}} for every path, in order, each path
    as str(path). mode: "line" (one line of text) or "lines" (several, joined with "\\n"); charset: the
    characters kept (digits, plus SEPARATORS for sets that have them); timeout: seconds per image."""
    if peer not in PEERS:
        raise ValueError(f"peer must be one of {PEERS}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    names = [str(path) for path in paths]
    if not names:
        return {}
    if any("\n" in name for name in names):
        raise ValueError("an image path holds a newline")
    per_image = timeout or PER_IMAGE_TIMEOUT[peer]
    with tempfile.TemporaryDirectory(prefix="digit-serve-peers-") as folder:
        listfile, out = Path(folder) / "images.txt", Path(folder) / "results.json"
        listfile.write_text("".join(name + "\n" for name in names))
        command = [
            *_namespace(),
            str(peer_python(peer)),
            str(READ),
            *("--peer", peer, "--images", str(listfile), "--mode", mode, "--charset", charset),
            *("--out", str(out), "--timeout", str(per_image)),
        ]
        try:
            done = subprocess.run(
                command,
                env=_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=240 + len(names) * (per_image + 10),
            )
        except subprocess.TimeoutExpired as exc:
            raise PeerError(f"{peer} did not finish {len(names)} images in {exc.timeout:.0f} s") from exc
        if done.stderr:
            sys.stderr.write(done.stderr[-4000:])
        if not out.exists():
            raise PeerError(f"{peer} wrote no results (exit status {done.returncode}): {done.stderr[-1500:]}")
        found = json.loads(out.read_text())
    if done.returncode == 3:
        raise PeerError(f"{peer} could not be loaded: {done.stderr[-1500:]}")
    missing = {"text": "", "seconds": 0.0, "error": "no result"}
    return {name: found.get(name, missing) for name in names}


def expected_text(path: Path) -> str:
    """The text in a numbers-set file name: <index>_<text>.<ext>."""
    return path.stem.split("_", 1)[1]


def score(peer: str, folder: Path, limit: int | None, mode: str, charset: str) -> dict:
    paths = sorted(p for p in folder.iterdir() if p.is_file() and "_" in p.stem)[:limit]
    started = time.perf_counter()
    results = run_peer(peer, paths, mode, charset)
    wall = time.perf_counter() - started
    right = sum(results[str(p)]["text"] == expected_text(p) for p in paths)
    errors = [f"{Path(name).name}: {r['error']}" for name, r in results.items() if r["error"]]
    return {
        "peer": peer,
        "folder": str(folder),
        "images": len(paths),
        "exact": round(right / len(paths), 4) if paths else None,
        "median_s": round(statistics.median(r["seconds"] for r in results.values()), 4) if paths else None,
        "wall_s": round(wall, 2),
        "errors": errors,
        "wrong": {Path(n).name: r["text"] for n, r in results.items() if r["text"] != expected_text(Path(n))},
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--score"]:
        parser = argparse.ArgumentParser(prog="run.py --score")
        parser.add_argument("peer", choices=PEERS)
        parser.add_argument("folder", type=Path)
        parser.add_argument("--limit", type=int)
        parser.add_argument("--mode", choices=MODES, default="line")
        parser.add_argument("--charset", default=DIGITS)
        args = parser.parse_args(argv[1:])
        print(json.dumps(score(args.peer, args.folder, args.limit, args.mode, args.charset), indent=1))
        return 0
    parser = argparse.ArgumentParser(description="Runs an OCR peer inside `unshare -n` (see the module's doc).")
    parser.add_argument("peer", choices=PEERS)
    parser.add_argument("listfile", type=Path, help="one image path per line")
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("charset")
    parser.add_argument("out", type=Path, help="RESULTS.json")
    args = parser.parse_args(argv)
    paths = [line.strip() for line in args.listfile.read_text().splitlines() if line.strip()]
    try:
        results = run_peer(args.peer, paths, args.mode, args.charset)
    except PeerError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 1
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
