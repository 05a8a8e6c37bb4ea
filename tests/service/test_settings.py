import dataclasses
import re
from pathlib import Path

import pytest

from service.core.model import choose_providers
from service.settings import Settings, SettingsError, cgroup_cpu_limit

CPU = ["CPUExecutionProvider"]
GPU = ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_defaults(monkeypatch):
    monkeypatch.setattr("service.settings._cores", lambda: 3)
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.model_dir, settings.device) == (
        "0.0.0.0",
        8000,
        Path("models"),
        "auto",
    )
    assert settings.workers == 3  # one worker per CPU this process may use
    assert settings.session_threads == 1
    assert settings.admin_token == ""


def test_values_are_read_and_typed_from_the_environment():
    settings = Settings.from_env(
        {
            "PORT": "9000",
            "MODEL_DIR": "/srv/models",
            "WORKERS": "3",
            "DEVICE": "cpu",
            "MODEL_POLL_SECONDS": "2.5",
            "ADMIN_TOKEN": " secret ",
        }
    )
    assert settings.port == 9000
    assert settings.model_dir == Path("/srv/models")
    assert settings.workers == 3
    assert settings.model_poll_seconds == 2.5
    assert settings.admin_token == "secret"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "http"}, "PORT must be int"),
        ({"PORT": "70000"}, "PORT must be at most 65535"),
        ({"WORKERS": "0"}, "WORKERS must be at least 1"),
        ({"DEVICE": "tpu"}, "DEVICE must be one of auto, cpu, cuda"),
        ({"ORT_THREADS": "-1"}, "must not be negative"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_onnxruntime_threads_share_the_cores_between_workers(monkeypatch):
    monkeypatch.setattr("service.settings._cores", lambda: 8)
    assert Settings.from_env({"WORKERS": "4"}).session_threads == 2
    assert Settings.from_env({"WORKERS": "16"}).session_threads == 1
    assert Settings.from_env({"WORKERS": "4", "ORT_THREADS": "3"}).session_threads == 3


# No GPU exists here: the provider lists stand in for what onnxruntime-gpu reports on a GPU host.
def test_auto_prefers_cuda_when_onnxruntime_offers_it():
    assert choose_providers("auto", GPU) == GPU
    assert choose_providers("auto", CPU) == CPU


def test_cpu_never_uses_the_gpu():
    assert choose_providers("cpu", GPU) == CPU


def test_cuda_without_a_gpu_provider_is_a_clear_error():
    assert choose_providers("cuda", GPU) == GPU
    with pytest.raises(RuntimeError, match="DEVICE=cuda but onnxruntime offers no CUDAExecutionProvider"):
        choose_providers("cuda", CPU)


def test_container_cpu_quota_is_read_from_cgroup_v2_and_v1(tmp_path):
    assert cgroup_cpu_limit(tmp_path) is None
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(tmp_path) is None
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_limit(tmp_path) == 1.5
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("200000")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert cgroup_cpu_limit(v1) == 2.0
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1")
    assert cgroup_cpu_limit(v1) is None


def test_device_cuda_refuses_a_session_that_onnxruntime_put_on_the_cpu(models_dir):
    """This machine has no GPU: onnxruntime accepts the CUDA provider list and quietly runs on the CPU."""
    from service.core.model import load_version
    from service.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="DEVICE=cuda but onnxruntime runs this model on CPUExecutionProvider"):
        load_version(models_dir / "mlp" / "1", GPU, 1, require_gpu=True)
    assert load_version(models_dir / "mlp" / "1", GPU, 1).provider == "CPUExecutionProvider"  # DEVICE=auto


@dataclasses.dataclass(frozen=True)
class _WithAFlag(Settings):
    verbose: bool = False


@pytest.mark.parametrize(
    ("raw", "expected"), [("false", False), ("0", False), ("Off", False), ("true", True), (" YES ", True), ("1", True)]
)
def test_a_bool_setting_reads_the_words_not_pythons_truthiness(raw, expected):
    assert _WithAFlag.from_env({"VERBOSE": raw}).verbose is expected  # bool("false") would be True


def test_a_bool_setting_that_is_not_a_word_for_one_is_refused():
    with pytest.raises(SettingsError, match="VERBOSE must be bool, got 'maybe'"):
        _WithAFlag.from_env({"VERBOSE": "maybe"})


def test_every_setting_is_in_the_documented_table_with_its_default():
    """A new field of Settings cannot be left out of the documentation (docs/operations.md)."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]*) \|", readme, re.M))
    for spec in dataclasses.fields(Settings):
        name = spec.name.upper()
        assert name in rows, f"{name} is missing from the settings table in docs/operations.md"
        default = spec.default if spec.default is not dataclasses.MISSING else None
        if isinstance(default, int | float) and not isinstance(default, bool):
            written = f"`{default}`" if isinstance(default, int) else f"`{default:g}`"
            assert rows[name].strip() == written, f"{name}: docs/operations.md says {rows[name]}, Settings {default}"
