"""Corrections users send (`POST /feedback`), kept in SQLite for a fine-tune to learn from.

One database file per serving instance, `FEEDBACK_DIR/feedback-<instance>.sqlite` (the instance: FEEDBACK_INSTANCE,
else the pod's or host's name), so that replicas sharing one volume (a ReadWriteMany claim in Kubernetes) never
share a SQLite file across hosts, where its locking is not safe; the fine-tune reads every file it finds
(training/learn/finetune.py). Within one instance, every gunicorn worker and the gRPC server open the same file: WAL
journaling and a busy timeout let them write at once without losing an item.

Each item keeps the image's bytes and their sha256, what it shows (a digit's `label`, or the `text` of a number),
when it came, and, where the client gave them, the request id of the answer it corrects and the model version
that answered. The same image with the same correction is stored once. A store past FEEDBACK_MAX_ITEMS or
FEEDBACK_MAX_BYTES, or a full disk, refuses new items with a 507; a database another process holds too long, 503.
People's handwriting is personal data: docs/operations.md says what is kept and how to delete it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from service.core.validation import MAX_NUMBER, whole_number
from service.errors import BadRequest, InsufficientStorage, ServiceError, ServiceUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    image BLOB NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('digit', 'number')),
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    request_id TEXT,
    model TEXT,
    version INTEGER,
    UNIQUE (sha256, kind, label)
);
CREATE INDEX IF NOT EXISTS items_created ON items (created_at);
"""
# What a number's correction may hold: what /read reads (digits, separators, lines), each line with a digit.
NUMBER_LINE = r"[.,/:\-]*[0-9][0-9.,/:\-]*"
NUMBER_TEXT = re.compile(rf"{NUMBER_LINE}(\n{NUMBER_LINE})*")
DIGITS = frozenset("0123456789")
INSTANCE = re.compile(r"[A-Za-z0-9._-]{1,63}")
BUSY_TIMEOUT_S = 5.0
# Room held on the store's disk for deleting when it is full: more than the largest image kept (an image is kept at
# the working size, service/reading/keep.py: at most 800 x 800 RGBA, under 2.6 MB as PNG), overwritten on delete.
RESERVE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Correction:
    """One correction as a client sends it: an image and what it shows, a digit or the text of a number."""

    image: bytes
    kind: str  # "digit" or "number"
    label: str
    request_id: str | None = None
    model: str | None = None
    version: int | None = None

    def with_image(self, image: bytes) -> Correction:
        """The same correction of another image (the one kept for it, service/reading/keep.py)."""
        return dataclasses.replace(self, image=image)


def correction(
    image: bytes,
    label: object = None,
    text: object = None,
    request_id: object = None,
    model: object = None,
    version: object = None,
) -> Correction:
    """A checked correction: exactly one of `label` (a digit 0-9) or `text` (a number as /read reads it)."""
    if (label is None) == (text is None):
        raise BadRequest("a correction needs either 'label' (the digit, 0-9) or 'text' (the number, as /read reads it)")
    if label is not None:
        digit = str(label).strip()
        if digit not in DIGITS:
            raise BadRequest(f"'label' must be one digit, 0-9; got {str(label)[:40]!r}")
        kind, value = "digit", digit
    else:
        value = str(text).strip().replace("\r\n", "\n")
        if len(value) > 64 or not NUMBER_TEXT.fullmatch(value):
            raise BadRequest(
                "'text' must be what is written: digits and the separators . , - / : (lines joined with a newline, "
                f"each with a digit), at most 64 characters; got {str(text)[:40]!r}"
            )
        kind = "number"
    if request_id is not None and (
        not isinstance(request_id, str) or not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", request_id)
    ):
        raise BadRequest("'request_id' must be the X-Request-ID of the answer corrected (letters, digits, ._:-)")
    if model is not None and (not isinstance(model, str) or not INSTANCE.fullmatch(model)):
        raise BadRequest("'model' must be a model's name")
    number = None
    if version is not None:
        number = whole_number(version)
        if number is None:
            raise BadRequest(f"'version' must be an integer from 0 to {MAX_NUMBER}, got {str(version)[:20]!r}")
    return Correction(image, kind, value, request_id, model, number)


@dataclass(frozen=True)
class Stored:
    """What storing a correction did: the item's id, and whether the same one was there already."""

    id: int
    duplicate: bool


class FeedbackStore:
    """This instance's corrections, in one SQLite file of FEEDBACK_DIR.

    A store that cannot be opened (a full disk, a folder that cannot be written, a file another program locked) never
    stops the process that holds it: `problem` says what is wrong, `/feedback` answers 507 or 503 with it, and
    everything else serves. Each call tries again, so the store comes back once the disk has room.
    """

    def __init__(self, directory: Path, instance: str, max_items: int, max_bytes: int) -> None:
        if not INSTANCE.fullmatch(instance):
            raise ValueError(f"FEEDBACK_INSTANCE must be letters, digits and ._- (at most 63), got {instance!r}")
        self.directory = directory
        self.path = directory / f"feedback-{instance}.sqlite"
        self.reserve = directory / f"feedback-{instance}.reserve"
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.problem: ServiceError | None = None
        self._opened = False
        self.open()

    def open(self) -> bool:
        """Create the file and its schema once; False, with `problem` set, while that cannot be done."""
        if self._opened:
            return True
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._connection() as db:
                _journal_to_wal(db)
                db.executescript(SCHEMA)
        except OSError as exc:
            self.problem = _os_problem(exc)
            return False
        except ServiceError as exc:
            self.problem = exc
            return False
        self._opened, self.problem = True, None
        self._keep_reserve()
        return True

    def _keep_reserve(self) -> None:
        """Hold RESERVE_BYTES of the disk in a file of its own, so that deleting works when the disk is full."""
        if self.reserve.exists() and self.reserve.stat().st_size >= RESERVE_BYTES:
            return
        try:
            with open(self.reserve, "wb") as file:
                os.posix_fallocate(file.fileno(), 0, RESERVE_BYTES)
        except OSError:
            self.reserve.unlink(missing_ok=True)  # no room for it now: made again after the next delete

    def _ready(self) -> None:
        if not self.open():
            assert self.problem is not None
            raise self.problem

    @property
    def state(self) -> str:
        """ "ok", or what keeps the store from being used (for /readyz)."""
        return "ok" if self._opened or self.open() else self.problem.message if self.problem else "unavailable"

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection of this thread's own, closed after use; SQLite's errors as the service's."""
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise ServiceUnavailable(f"the feedback store cannot be opened: {exc}") from None
        try:
            yield db
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if "full" in text or "disk" in text:
                raise InsufficientStorage("the feedback store's disk is full; no more corrections are kept") from None
            if "locked" in text or "busy" in text:
                raise ServiceUnavailable("the feedback store is busy; retry after the time in Retry-After") from None
            raise ServiceUnavailable(f"the feedback store cannot be written: {exc}") from None
        finally:
            db.close()

    def add(self, item: Correction) -> Stored:
        """Store `item` once (the same image with the same correction is one item); 507 past the store's limits."""
        self._ready()
        digest = hashlib.sha256(item.image).hexdigest()
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time, so that the limits hold across processes
            try:
                found = db.execute(
                    "SELECT id FROM items WHERE sha256 = ? AND kind = ? AND label = ?", (digest, item.kind, item.label)
                ).fetchone()
                if found is not None:
                    db.execute("COMMIT")
                    return Stored(int(found[0]), True)
                count, size = db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(image)), 0) FROM items").fetchone()
                if count >= self.max_items or size + len(item.image) > self.max_bytes:
                    raise InsufficientStorage(
                        f"the feedback store is full ({count} items, {size} bytes; the limits are "
                        f"FEEDBACK_MAX_ITEMS={self.max_items} and FEEDBACK_MAX_BYTES={self.max_bytes})"
                    )
                cursor = db.execute(
                    "INSERT INTO items (sha256, image, kind, label, created_at, request_id, model, version)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (digest, item.image, item.kind, item.label, created, item.request_id, item.model, item.version),
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return Stored(int(cursor.lastrowid or 0), False)

    def delete(self, item_id: int) -> bool:
        """Delete one item; False when this instance holds none of that id.

        On a full disk, too: SQLite overwrites what it deletes (secure_delete), which takes room in its log, so the
        reserve is given up for it and taken again once the log has been folded back into the file.
        """
        self._ready()
        try:
            deleted = self._delete(item_id)
        except InsufficientStorage:
            if not self.reserve.exists():
                raise
            self.reserve.unlink()
            deleted = self._delete(item_id)
        self._keep_reserve()
        return deleted

    def _delete(self, item_id: int) -> bool:
        with self._connection() as db:
            return db.execute("DELETE FROM items WHERE id = ?", (item_id,)).rowcount > 0

    def stats(self) -> dict:
        """How many items, and of how many bytes, by kind, by label and by the model version that answered."""
        self._ready()
        with self._connection() as db:
            count, size = db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(image)), 0) FROM items").fetchone()
            by_label = {
                f"{kind}:{label}": n
                for kind, label, n in db.execute("SELECT kind, label, COUNT(*) FROM items GROUP BY kind, label")
            }
            by_version = {
                (f"{model} v{version}" if model else "unknown"): n
                for model, version, n in db.execute(
                    "SELECT model, version, COUNT(*) FROM items GROUP BY model, version"
                )
            }
        return {"items": count, "bytes": size, "by_label": by_label, "by_model_version": by_version}


def _journal_to_wal(db: sqlite3.Connection) -> None:
    """Switch a file to WAL journaling. When two processes create the file at once, one of them gets SQLITE_BUSY at
    once (the busy timeout does not cover this switch): it tries again, within BUSY_TIMEOUT_S."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    for attempt in range(1, 1_000):  # bounded by the deadline long before the count
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
            time.sleep(min(0.002 * attempt, 0.05))


def _os_problem(exc: OSError) -> ServiceError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientStorage(f"the feedback store's disk is full: {exc}")
    return ServiceUnavailable(f"the feedback store cannot be opened: {exc}")


@dataclass(frozen=True)
class StoredCorrection:
    """One stored correction as the fine-tune reads it, with where it came from (its card traces every one)."""

    instance: str  # the store's instance: feedback-<instance>.sqlite
    id: int
    kind: str
    label: str
    image: bytes
    sha256: str
    created_at: str
    model: str | None  # the model and version that answered the request corrected, where the client said
    version: int | None


def read_items(directory: Path) -> Iterator[StoredCorrection]:
    """Every item of every instance's file in `directory`, in id order per file, for the fine-tune."""
    for path in sorted(directory.glob("feedback-*.sqlite")):
        instance = path.stem.removeprefix("feedback-")
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            query = "SELECT id, kind, label, image, sha256, created_at, model, version FROM items ORDER BY id"
            for row in db.execute(query):
                yield StoredCorrection(instance, *row)
        finally:
            db.close()
