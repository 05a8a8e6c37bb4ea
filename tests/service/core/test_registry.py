"""The registry in process: discovery, broken versions, versions kept, workers agreeing through shared state."""

import shutil

import pytest

from service.core.registry import ModelRegistry
from service.core.serving_state import serving_state
from service.errors import ModelLoadError, ModelNotFound
from tests.fixtures import committed_versions
from tests.metrics import sample
from tests.repository import add_version

CPU = ["CPUExecutionProvider"]


def _registry(model_dir, state_dir=None, max_versions: int = 3) -> ModelRegistry:
    return ModelRegistry.for_device(model_dir, CPU, 1, serving_state(state_dir), max_versions)


def _load_failures(name: str, version: int) -> float:
    return sample("digit_serve_model_loads_total", model=name, version=str(version), result="failure")


@pytest.fixture
def model_dir(tmp_path, models_dir):
    target = tmp_path / "models"
    shutil.copytree(models_dir / "linear", target / "linear")
    shutil.copytree(models_dir / "mlp", target / "mlp")
    return target


def _publish(model_dir, name="linear", onnx: bytes | None = None) -> int:
    return add_version(model_dir, name, onnx)


def test_discovery_ignores_staging_folders_and_folders_without_a_card(model_dir):
    (model_dir / "linear" / ".tmp-abc").mkdir()
    (model_dir / "linear" / "7").mkdir()  # no model.json: a half-copied version
    assert _registry(model_dir).discover() == {"linear": [1], "mlp": committed_versions("mlp")}


def test_a_broken_version_on_disk_at_start_is_skipped_and_the_others_serve(model_dir):
    _publish(model_dir, onnx=b"broken")
    registry = _registry(model_dir)
    registry.load_all()
    assert registry.versions("linear") == [1]
    assert registry.versions("mlp") == committed_versions("mlp")
    assert registry.ready


def test_no_loadable_model_is_an_error_at_start(tmp_path):
    with pytest.raises(RuntimeError, match="no loadable model"):
        _registry(tmp_path).load_all()


def test_only_the_newest_versions_stay_loaded(model_dir):
    registry = _registry(model_dir, max_versions=2)
    registry.load_all()
    for expected in (2, 3, 4):
        assert _publish(model_dir) == expected
        registry.load("linear")
    assert registry.versions("linear") == [3, 4]
    assert registry.get("linear").version == 4
    with pytest.raises(ModelNotFound, match="available: 3, 4"):
        registry.get("linear", 1)


def test_load_refuses_a_broken_version_and_keeps_serving(model_dir):
    registry = _registry(model_dir)
    registry.load_all()
    _publish(model_dir, onnx=b"broken")
    with pytest.raises(ModelLoadError, match="sha256"):
        registry.load("linear")
    assert registry.get("linear").version == 1
    with pytest.raises(ModelNotFound):
        registry.load("resnet")


def test_two_workers_agree_through_the_shared_state(model_dir, tmp_path):
    state = tmp_path / "state"
    first, second = _registry(model_dir, state), _registry(model_dir, state)
    first.load_all()
    second.load_all()
    _publish(model_dir)
    first.load("linear")
    assert second.get("linear").version == 1  # not yet synced
    second.sync()
    assert second.get("linear").version == 2
    second.unload("mlp")
    first.sync()
    assert first.names() == ["linear"]
    third = _registry(model_dir, state)  # a worker restarted later follows the recorded state
    third.load_all()
    assert third.names() == ["linear"]
    assert third.versions("linear") == [1, 2]


def test_workers_that_start_on_either_side_of_a_publish_serve_the_same_versions(model_dir, tmp_path):
    """The first worker to start records what it found on disk; one starting after a publish serves that too,
    until a load (a poll, model control) moves them all. (Found as a flaky hot-reload test: the later worker
    served the new version at once, the earlier one only after its next poll.)"""
    state = tmp_path / "state"
    first = _registry(model_dir, state)
    first.load_all()
    _publish(model_dir)
    second = _registry(model_dir, state)
    second.load_all()
    assert (first.get("linear").version, second.get("linear").version) == (1, 1)
    assert second.poll_once() == [("linear", 2)]
    first.sync()
    assert (first.get("linear").version, second.get("linear").version) == (2, 2)


def test_poll_once_loads_new_versions_once_and_remembers_failures(model_dir):
    registry = _registry(model_dir)
    registry.load_all()
    assert registry.poll_once() == []
    _publish(model_dir)
    assert registry.poll_once() == [("linear", 2)]
    _publish(model_dir, onnx=b"broken")
    failures = _load_failures("linear", 3)
    assert registry.poll_once() == []
    assert registry.get("linear").version == 2
    assert _load_failures("linear", 3) == failures + 1
    assert registry.poll_once() == []  # the broken version is not tried again on every poll
    assert _load_failures("linear", 3) == failures + 1


def test_a_requested_version_is_the_one_returned_and_the_newest_serves_by_default(model_dir):
    registry = _registry(model_dir)
    registry.load_all()
    _publish(model_dir)
    registry.load("linear")
    assert registry.get("linear").version == 2
    assert registry.get("linear", 1).version == 1
    assert registry.get("linear", "1").path == model_dir / "linear" / "1"
    with pytest.raises(ModelNotFound, match="versions are integers"):
        registry.get("linear", "latest")


def test_a_load_recorded_by_one_worker_keeps_what_another_recorded_before(model_dir, tmp_path):
    """A worker that records a change follows the whole record, not only its own change."""
    state = tmp_path / "state"
    first, second = _registry(model_dir, state), _registry(model_dir, state)
    first.load_all()
    second.load_all()
    first.unload("mlp")
    _publish(model_dir)
    second.load("linear")  # second had not synced the unload before this request
    assert second.names() == ["linear"]
    assert second.versions("linear") == [1, 2]
