"""A time budget for reading one image: a deadline that the reading stages check between their steps.

Every step of `/read` is bounded by what it is given (pixels by the working size, pieces by MAX_PIECES, characters
by MAX_MARKS, candidate digits by MAX_CANDIDATES), so an image is read in well under a second on one core. The
budget is the backstop for what those bounds do not foresee, and for a machine so loaded that bounded work still
runs long: past READ_BUDGET_S the request is answered 503 (retry later) instead of holding its worker until
gunicorn's timeout kills it with every request it serves.

The deadline lives in a context variable, set by the one caller that reads (service/core/digits.py) for the
duration of a reading, so the stages stay functions of their inputs and check the clock with one call.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

from service.errors import ServiceUnavailable

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("reading_deadline", default=None)


class ReadingTooSlow(ServiceUnavailable):
    """Reading one image ran past its time budget."""


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Within this block, `check` raises ReadingTooSlow once `seconds` have passed (none: no budget)."""
    token = _deadline.set((time.monotonic() + seconds, seconds) if seconds > 0 else None)
    try:
        yield
    finally:
        _deadline.reset(token)


def check(stage: str) -> None:
    """Raise ReadingTooSlow when the budget in force has run out; `stage` names where, for the message."""
    found = _deadline.get()
    if found is not None and time.monotonic() > found[0]:
        raise ReadingTooSlow(
            f"reading the image took longer than its budget of {found[1]:g} s (READ_BUDGET_S), at {stage}: "
            "the server is busy, or the image is far from a number; retry after the time in Retry-After"
        )
