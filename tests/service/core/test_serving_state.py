"""The record of what a server's processes serve: in memory for one process, in a shared file for several."""

import threading
import time

from service.core.serving_state import LocalServingState, SharedServingState


def test_local_state_starts_empty_records_changes_and_never_reports_outside_changes():
    state = LocalServingState()
    assert state.read() == (None, 0)
    assert state.record(lambda models: models.pop("mlp"), {"mlp": [1], "cnn": [1]})[0] == {"cnn": [1]}
    assert state.record(lambda models: models.update(cnn=[1, 2]), {"ignored": [9]})[0] == {"cnn": [1, 2]}
    assert state.read()[0] == {"cnn": [1, 2]}
    assert state.changed() is False


def test_shared_state_reports_a_change_made_by_another_process_until_it_is_marked_seen(tmp_path):
    mine, theirs = SharedServingState(tmp_path), SharedServingState(tmp_path)
    assert mine.read() == (None, 0)
    mine.mark_seen(0)
    assert mine.changed() is False
    models, generation = theirs.record(lambda models: models.update(linear=[1, 2]), {"linear": [1]})
    assert (models, generation) == ({"linear": [1, 2]}, 1)
    assert mine.changed() is True
    assert mine.read() == ({"linear": [1, 2]}, 1)
    assert mine.changed() is True  # read, but not yet held: other threads must keep waiting for it
    mine.mark_seen(1)
    assert mine.changed() is False
    assert mine.record(lambda models: models.pop("linear"), {}) == ({}, 2)
    theirs.mark_seen(1)
    assert theirs.changed() is True


def test_a_thread_arriving_while_another_follows_a_change_waits_for_it(tmp_path, models_dir):
    """The race behind a reload test failure: the generation was marked seen before the new version was held."""
    import shutil

    from service.core.registry import ModelRegistry
    from service.core.serving_state import serving_state
    from tests.repository import add_version

    shutil.copytree(models_dir / "linear", tmp_path / "models" / "linear")
    slow_loads = threading.Event()

    def loader(path):
        from service.core.model import load_version

        if slow_loads.is_set():
            time.sleep(0.3)  # a version that takes a while to load and warm up
        return load_version(path, ["CPUExecutionProvider"], 1)

    first = ModelRegistry(tmp_path / "models", loader, serving_state(tmp_path / "state"))
    second = ModelRegistry(tmp_path / "models", loader, serving_state(tmp_path / "state"))
    first.load_all()
    second.load_all()
    add_version(tmp_path / "models", "linear")
    first.load("linear", 2)
    slow_loads.set()
    follower = threading.Thread(target=second.sync)
    follower.start()
    time.sleep(0.05)  # the follower is loading version 2
    second.sync()  # another request's thread in the same process
    assert second.get("linear").version == 2
    follower.join(5)
