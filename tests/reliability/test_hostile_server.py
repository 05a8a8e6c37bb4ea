"""The real server against issue 36's findings: images drawn to be costly for /read, gunicorn's own refusals, and a
corrections store that cannot be opened (a full disk, a folder that cannot be made). Loopback only; every loop is
bounded in count and time. Each test prints the figures docs/reliability.md quotes.

The full-disk tests mount a small tmpfs, which needs root (CI and the development VM run as root); elsewhere they
are skipped, and tests/service/transport/http/test_hostile.py still covers the store in process.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from support.server import ROOT, running_server
from tests.images import dot_grid

pytestmark = pytest.mark.slow

SEVEN = (ROOT / "examples" / "seven.png").read_bytes()
PNG = {"Content-Type": "image/png"}
ADMIN_TOKEN = "hostile-admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# Fresh starts with 4 workers each, every one creating its own corrections file (issue 36 saw a fresh clone's start
# race fail once); HOSTILE_STARTS=50 for the figure docs/reliability.md quotes.
STARTS = int(os.environ.get("HOSTILE_STARTS", "2"))


def test_four_costly_images_at_once_are_refused_quickly_while_predict_serves(tmp_path, models_dir):
    """Issue 36: four 1 KB grids of 9,801 dots sent at once put both workers past gunicorn's 30 s timeout, and a
    /predict meanwhile took 30.3 s. Now each is a 422 in a fraction of a second, and /predict is not held."""
    grid = dot_grid(400, 4, 2)
    answers: list[tuple[int, str, float]] = []
    predicts: list[tuple[int, float]] = []
    with running_server(tmp_path, MODEL_DIR=str(models_dir), WORKERS="2") as server:

        def read() -> None:
            start = time.monotonic()
            answer = requests.post(f"{server.url}/read", data=grid, headers=PNG, timeout=40)
            answers.append((answer.status_code, answer.json()["error"]["message"], time.monotonic() - start))

        senders = [threading.Thread(target=read) for _ in range(4)]
        for sender in senders:
            sender.start()
        for _ in range(20):
            start = time.monotonic()
            answer = requests.post(f"{server.url}/predict", data=SEVEN, headers=PNG, timeout=40)
            predicts.append((answer.status_code, time.monotonic() - start))
        for sender in senders:
            sender.join(60)
        log = server.log()
    slowest_read = max(seconds for _, _, seconds in answers)
    slowest_predict = max(seconds for _, seconds in predicts)
    print(
        f"\n4 grids at once: slowest 422 {slowest_read:.2f} s; 20 /predict meanwhile, slowest {slowest_predict:.2f} s"
    )
    assert len(answers) == 4 and {status for status, _, _ in answers} == {422}, answers
    assert all("separate marks" in message for _, message, _ in answers), answers
    assert {status for status, _ in predicts} == {200}
    assert slowest_read < 5 and slowest_predict < 5  # each was 26 s or more before
    assert "WORKER TIMEOUT" not in log and "Traceback" not in log


def _raw(port: int, request: bytes) -> tuple[int, str, bytes]:
    """Send `request` as it is and read the whole answer: its status, Content-Type and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers.get("Content-Type", ""), body


@pytest.mark.parametrize("worker_class", ["balanced", "gthread"])
def test_gunicorns_own_refusals_are_the_services_json(tmp_path, models_dir, worker_class):
    """A request line over 4,094 bytes, a header over 8,190, or a malformed request: gunicorn answers before the app,
    with an HTML page before issue 36; now with the same JSON error body as every other refusal."""
    cases = {
        "uri_too_long": (414, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        "request_header_fields_too_large": (431, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"),
        "bad_request": (400, b"NOT A REQUEST\r\n\r\n"),
    }
    with running_server(tmp_path, MODEL_DIR=str(models_dir), WORKER_CLASS=worker_class) as server:
        for code, (status, request) in cases.items():
            found, media, body = _raw(server.port, request)
            assert (found, media) == (status, "application/json"), (code, found, media, body[:200])
            assert json.loads(body)["error"]["code"] == code
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200  # no worker lost


@contextlib.contextmanager
def small_disk(path: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of `megabytes` mounted at `path` (skips the test where mounting is not permitted); unmounted after."""
    path.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)], capture_output=True, timeout=10
        )
    except FileNotFoundError:
        pytest.skip("no mount command here")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)


def fill(disk: Path) -> None:
    """Write to `disk` until it has no room left (bounded by its size, which a tmpfs has)."""
    block = b"\0" * 65536
    with open(disk / "filler", "ab") as file:
        for _ in range(1 << 16):  # 4 GiB, far above any disk these tests mount
            try:
                file.write(block)
                file.flush()
            except OSError:
                break
    with contextlib.suppress(OSError), open(disk / "filler-tail", "ab") as tail:
        for _ in range(65536):
            tail.write(b"\0")
            tail.flush()


def _feedback(url: str, label: str = "7") -> requests.Response:
    return requests.post(f"{url}/feedback?label={label}", data=SEVEN, headers=PNG, timeout=20)


def test_a_new_instance_on_a_full_disk_serves_everything_but_corrections(tmp_path, models_dir):
    """Issue 36: a new instance's file on a full volume made every worker exit 3 and the master stop the server."""
    with small_disk(tmp_path / "disk", 1) as disk:
        fill(disk)
        with running_server(
            tmp_path, MODEL_DIR=str(models_dir), FEEDBACK_DIR=str(disk / "feedback"), FEEDBACK_INSTANCE="new-pod"
        ) as server:
            ready = requests.get(f"{server.url}/readyz", timeout=5)
            assert ready.status_code == 200 and "full" in ready.json()["feedback"], ready.text
            assert requests.post(f"{server.url}/predict", data=SEVEN, headers=PNG, timeout=10).status_code == 200
            refused = _feedback(server.url)
            assert refused.status_code == 507 and refused.json()["error"]["code"] == "insufficient_storage"
            (disk / "filler").unlink()  # room again: the store opens at its next use, no restart needed
            assert _feedback(server.url).status_code == 201
            assert requests.get(f"{server.url}/readyz", timeout=5).json()["feedback"] == "ok"
            assert "Worker failed to boot" not in server.log()


def test_corrections_can_be_deleted_on_a_disk_that_filled_up(tmp_path, models_dir):
    """A user's request to delete their correction must work when the disk is full: the store's reserve is freed."""
    with small_disk(tmp_path / "disk", 24) as disk:
        env = {"FEEDBACK_DIR": str(disk), "FEEDBACK_INSTANCE": "pod", "ADMIN_TOKEN": ADMIN_TOKEN}
        with running_server(tmp_path, MODEL_DIR=str(models_dir), **env) as server:
            ids = [_feedback(server.url, label).json()["id"] for label in "0123"]
            fill(disk)
            assert _feedback(server.url, "9").status_code == 507
            for item in ids:
                deleted = requests.delete(f"{server.url}/feedback/{item}", headers=ADMIN, timeout=20)
                assert deleted.status_code == 200 and deleted.json() == {"id": item, "deleted": True}, deleted.text
            (disk / "filler").unlink()  # the stats open the store's log again, which needs room (507 without it)
            stats = requests.get(f"{server.url}/feedback/stats", headers=ADMIN, timeout=20)
            assert stats.status_code == 200 and stats.json()["items"] == 0, stats.text


def test_a_feedback_dir_that_cannot_be_made_leaves_the_server_serving(tmp_path, models_dir):
    (tmp_path / "a-file").write_text("not a directory")
    with running_server(tmp_path, MODEL_DIR=str(models_dir), FEEDBACK_DIR=str(tmp_path / "a-file" / "feedback")) as s:
        assert requests.post(f"{s.url}/predict", data=SEVEN, headers=PNG, timeout=10).status_code == 200
        refused = _feedback(s.url)
        assert refused.status_code == 503 and "cannot be opened" in refused.json()["error"]["message"], refused.text
        ready = requests.get(f"{s.url}/readyz", timeout=5)
        assert ready.status_code == 200 and "Not a directory" in ready.json()["feedback"]
        assert s.log().count("corrections are not kept for now") == 1  # the master says it once
        assert "Worker failed to boot" not in s.log()


def test_fresh_instances_with_four_workers_each_start_and_keep_corrections(tmp_path, models_dir):
    """Each start makes a new corrections file that four workers open at once; every start serves and stores."""
    took = []
    for start in range(STARTS):
        began = time.monotonic()
        directory = tmp_path / f"feedback-{start}"
        with running_server(tmp_path, MODEL_DIR=str(models_dir), WORKERS="4", FEEDBACK_DIR=str(directory)) as server:
            took.append(time.monotonic() - began)
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda label: _feedback(server.url, label).status_code, "01234567"))
            assert answers == [201] * 8, (start, answers, server.log())
            assert "Worker failed to boot" not in server.log()
    print(f"\n{STARTS} fresh starts x 4 workers: all served and stored; slowest start {max(took):.1f} s")
