"""The record of what a server's processes serve: in memory for one process, in a shared file for several."""

from service.serving_state import LocalServingState, SharedServingState


def test_local_state_starts_empty_records_changes_and_never_reports_outside_changes():
    state = LocalServingState()
    assert state.recorded() is None
    assert state.record(lambda models: models.pop("mlp"), {"mlp": [1], "cnn": [1]}) == {"cnn": [1]}
    assert state.record(lambda models: models.update(cnn=[1, 2]), {"ignored": [9]}) == {"cnn": [1, 2]}
    assert state.recorded() == {"cnn": [1, 2]}
    assert state.changed() is False


def test_shared_state_reports_a_change_made_by_another_process_once(tmp_path):
    mine, theirs = SharedServingState(tmp_path), SharedServingState(tmp_path)
    assert mine.recorded() is None
    assert mine.changed() is False
    theirs.record(lambda models: models.update(linear=[1, 2]), {"linear": [1]})
    assert theirs.changed() is False  # its own change
    assert mine.changed() is True
    assert mine.recorded() == {"linear": [1, 2]}
    assert mine.changed() is False
    assert mine.record(lambda models: models.pop("linear"), {}) == {}
    assert theirs.changed() is True
