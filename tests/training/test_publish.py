import json
import os
import platform
import stat
import threading
from datetime import datetime

import pytest

from training.release.publish import existing_versions, next_version, publish_version


def test_versions_count_up_from_one(tmp_path):
    assert next_version(tmp_path, "mlp") == 1
    for expected in (1, 2, 3):
        version, path = publish_version(tmp_path, "mlp", {"model.onnx": b"x"}, {"name": "mlp"})
        assert version == expected
        assert json.loads((path / "model.json").read_text())["version"] == expected
    assert existing_versions(tmp_path, "mlp") == [1, 2, 3]


def test_every_card_is_stamped_with_when_and_with_what_it_was_made(tmp_path):
    _, path = publish_version(tmp_path, "mlp", {"model.onnx": b"x"}, {"name": "mlp"})
    card = json.loads((path / "model.json").read_text())
    assert list(card) == ["name", "created_at", "libraries", "version"]
    assert datetime.fromisoformat(card["created_at"]).tzinfo is not None
    assert card["libraries"]["python"] == platform.python_version() and "numpy" in card["libraries"]


def test_a_published_version_is_readable_by_other_users(tmp_path):
    """Not private like the temporary folder it is staged in: a server running as another user reads it."""
    previous = os.umask(0o022)
    try:
        _, path = publish_version(tmp_path, "mlp", {"model.onnx": b"x"}, {"name": "mlp"})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert stat.S_IMODE((path / "model.onnx").stat().st_mode) == 0o644


def test_existing_version_is_never_overwritten(tmp_path):
    publish_version(tmp_path, "cnn", {"model.onnx": b"first"}, {"name": "cnn"})
    publish_version(tmp_path, "cnn", {"model.onnx": b"second"}, {"name": "cnn"})
    assert (tmp_path / "cnn" / "1" / "model.onnx").read_bytes() == b"first"
    assert (tmp_path / "cnn" / "2" / "model.onnx").read_bytes() == b"second"


def test_concurrent_publishers_get_distinct_versions_and_leave_no_staging(tmp_path):
    results = []

    def publish(i: int) -> None:
        results.append(publish_version(tmp_path, "mlp", {"model.onnx": str(i).encode()}, {"i": i})[0])

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, 9))
    assert [p.name for p in (tmp_path / "mlp").iterdir() if p.name.startswith(".")] == []
    for version in results:
        card = json.loads((tmp_path / "mlp" / str(version) / "model.json").read_text())
        assert card["version"] == version
        assert (tmp_path / "mlp" / str(version) / "model.onnx").read_bytes() == str(card["i"]).encode()


def test_failed_write_leaves_no_version_and_no_staging(tmp_path):
    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        publish_version(tmp_path, "mlp", {"model.onnx": b"x"}, {"bad": Unserialisable()})
    assert list((tmp_path / "mlp").iterdir()) == []
