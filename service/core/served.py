"""What a request ran, as the runtime returns it: each transport records it in its own log line and tags."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Served:
    """The model version a request ran and how many instances; `extra` holds the counts /read and is_digit add
    (`marks`, `non_digits`), which the HTTP access line names."""

    model: str
    version: int
    instances: int
    extra: dict[str, int] = field(default_factory=dict)
