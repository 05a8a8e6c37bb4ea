"""The one reader of Prometheus samples in the tests: from a server's /metrics text, or this process's registry."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families


def sample(name: str, text: str | None = None, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`: in `text` (a /metrics answer, which
    multiprocess mode may split over several lines per label set), else in this process's default registry."""
    families = text_string_to_metric_families(text) if text is not None else REGISTRY.collect()
    return sum(
        found.value
        for family in families
        for found in family.samples
        if found.name == name and all(found.labels.get(key) == value for key, value in labels.items())
    )
