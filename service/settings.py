"""Settings: one frozen object read from the environment, with defaults and checks."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

DEVICES = ("auto", "cpu", "cuda")
WORKER_CLASSES = ("balanced", "gthread")
DRAIN_FILE_NAME = (
    "draining"  # in STATE_DIR: readiness answers 503 while it exists (python -m service.healthcheck --drain)
)


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True)
class BatchPolicy:
    """Adaptive batching for one model: at most `max_batch_size` rows per run, no request queued longer
    than `max_delay_s`, and a 503 for a request no batch ran within `timeout_s`."""

    max_batch_size: int
    max_delay_s: float
    timeout_s: float = 5.0


def parse_batching(spec: str) -> dict[str, BatchPolicy]:
    """`mlp=64/2,cnn=32/1` -> per model: max batch size (rows) / max queue delay (ms). Empty: no batching."""
    policies = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, values = item.partition("=")
        size, _, delay = values.partition("/")
        try:
            policy = BatchPolicy(int(size), float(delay) / 1000)
        except ValueError:
            raise SettingsError(f"BATCHING entries look like mlp=64/2 (rows/milliseconds), got {item!r}") from None
        if not name.strip() or policy.max_batch_size < 2 or not 0 <= policy.max_delay_s <= 1:
            raise SettingsError(f"BATCHING {item!r}: needs a model name, at least 2 rows and 0 to 1000 ms")
        policies[name.strip()] = policy
    return policies


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by the container's cgroup quota (v2 cpu.max or v1 cfs files), None when unlimited."""
    try:
        quota_text, period_text = (root / "cpu.max").read_text().split()[:2]
        return None if quota_text == "max" else int(quota_text) / int(period_text)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def _cores() -> int:
    """CPUs this process may use: its affinity, capped by a container's CPU quota (docker --cpus, k8s limits)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    return max(1, min(cores, int(limit + 0.5))) if limit else cores


@dataclass(frozen=True)
class Settings:
    """Every knob of the service. Field `foo_bar` is read from the environment variable FOO_BAR."""

    host: str = "0.0.0.0"
    port: int = 8000
    grpc_port: int = 8001  # the open inference protocol over gRPC; 0 turns it off
    grpc_threads: int = 8  # gRPC calls run at once per process; MAX_QUEUE more may wait, then RESOURCE_EXHAUSTED
    grpc_workers: int = 0  # gRPC server processes sharing GRPC_PORT; 0: as many as WORKERS
    model_dir: Path = Path("models")
    workers: int = field(default_factory=lambda: max(1, _cores()))
    threads: int = 2
    # balanced: the service's own gunicorn worker (service/transport/http/worker); gthread: stock gunicorn, the
    # escape hatch for a gunicorn release that breaks it (docs/performance.md: the worker decision)
    worker_class: str = "balanced"
    device: str = "auto"
    ort_threads: int = 0  # onnxruntime intra-op threads per session; 0: cores / workers, at least 1
    default_model: str = "cnn"
    digit_check_model: str = "isdigit"  # the model that answers is_digit (docs/api.md); off: is_digit left out
    # the second reader of /read (service/core/linereader.py); off: /read answers from the segmenting reader alone
    line_reader_model: str = "linereader"
    # the third reader of /read (service/core/charmodel.py): names each character in its line; off: not asked
    char_model: str = "charmodel"
    max_body_bytes: int = 10 * 1024 * 1024
    max_instances: int = 1024  # per request, numbers or images
    max_image_pixels: int = 25_000_000  # width x height of one image, checked before decoding
    request_timeout: int = 30
    read_timeout: float = 30.0  # seconds a client has to send a whole request (headers and body); then 408
    # seconds one /read may spend finding and cutting an image's marks; then 503 (service/reading/budget.py)
    read_budget_s: float = 5.0
    max_queue: int = 64  # requests per worker waiting for a thread; beyond it a new request gets 503 + Retry-After
    inline_max_bytes: int = 64 * 1024  # a request up to this size runs in the worker's event loop; 0: all in threads
    log_level: str = "info"
    api_keys: str = ""  # comma-separated keys for predictions and metadata; empty: open (docs/reliability.md)
    cors_origins: str = ""  # comma-separated browser origins allowed to call the API, or *; empty: CORS off
    admin_token: str = ""  # bearer token for /v2/repository/*; empty: model control disabled (403)
    model_poll_seconds: float = 0.0  # > 0: load new versions found on disk every so many seconds
    max_versions: int = 3  # versions of one model kept loaded; the newest serves by default
    batching: str = ""  # adaptive batching per model, e.g. "mlp=64/2,cnn=32/2": max rows / max queue delay in ms
    state_dir: str = ""  # shared by a server's workers to agree on what they serve (gunicorn.conf.py sets it)
    # Corrections (POST /feedback, docs/operations.md): off while FEEDBACK_DIR is empty. Each instance writes its own
    # SQLite file there, named after FEEDBACK_INSTANCE (default: the host's name, which is the pod's in Kubernetes).
    feedback_dir: str = ""
    feedback_instance: str = ""
    feedback_max_items: int = 100_000
    feedback_max_bytes: int = 1024 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise SettingsError(f"DEVICE must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.worker_class not in WORKER_CLASSES:
            raise SettingsError(f"WORKER_CLASS must be one of {', '.join(WORKER_CLASSES)}, got {self.worker_class!r}")
        for name in (
            "port",
            "workers",
            "threads",
            "max_body_bytes",
            "max_instances",
            "max_image_pixels",
            "request_timeout",
            "max_versions",
            "feedback_max_items",
            "feedback_max_bytes",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name.upper()} must be at least 1, got {getattr(self, name)}")
        if self.port > 65535:
            raise SettingsError(f"PORT must be at most 65535, got {self.port}")
        if not 0 <= self.grpc_port <= 65535 or self.grpc_port == self.port:
            raise SettingsError(f"GRPC_PORT must be 0 (off) or a port other than PORT's, got {self.grpc_port}")
        if self.grpc_threads < 1:
            raise SettingsError(f"GRPC_THREADS must be at least 1, got {self.grpc_threads}")
        if self.grpc_workers < 0:
            raise SettingsError(f"GRPC_WORKERS must be 0 (as many as WORKERS) or more, got {self.grpc_workers}")
        parse_batching(self.batching)
        if self.read_timeout <= 0:
            raise SettingsError(f"READ_TIMEOUT must be above 0, got {self.read_timeout}")
        if not 0 < self.read_budget_s < self.request_timeout:
            raise SettingsError(
                f"READ_BUDGET_S must be above 0 and below REQUEST_TIMEOUT ({self.request_timeout}), "
                f"got {self.read_budget_s}"
            )
        if self.ort_threads < 0 or self.model_poll_seconds < 0 or self.inline_max_bytes < 0:
            raise SettingsError("ORT_THREADS, MODEL_POLL_SECONDS and INLINE_MAX_BYTES must not be negative")

    @property
    def drain_file(self) -> Path | None:
        """STATE_DIR/draining: while it exists, readiness answers draining (python -m service.healthcheck --drain)."""
        return Path(self.state_dir) / DRAIN_FILE_NAME if self.state_dir else None

    @property
    def feedback_instance_name(self) -> str:
        """The name of this instance's corrections file: FEEDBACK_INSTANCE, else the host's (a pod's) name."""
        import socket

        return self.feedback_instance or socket.gethostname().split(".")[0] or "local"

    @property
    def grpc_processes(self) -> int:
        """gRPC server processes: one Python process serves about one core's worth of calls (its GIL)."""
        return self.grpc_workers or self.workers

    @property
    def inline_bytes(self) -> int:
        """Requests up to this size run in the event loop; none while batching is on, which needs concurrent callers."""
        return 0 if self.batching else self.inline_max_bytes

    @property
    def batch_policies(self) -> dict[str, BatchPolicy]:
        return parse_batching(self.batching)

    @property
    def session_threads(self) -> int:
        """onnxruntime threads per session, so that all workers together do not oversubscribe the cores."""
        return self.ort_threads or max(1, _cores() // self.workers)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings from `environ` (default os.environ); keyword overrides win."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        types = get_type_hints(cls)
        for spec in fields(cls):
            raw = environ.get(spec.name.upper())
            if raw is None or raw == "":
                continue
            kind = types[spec.name]
            try:
                values[spec.name] = (
                    _boolean(raw) if kind is bool else kind(raw.strip()) if kind is not str else raw.strip()
                )
            except ValueError:
                raise SettingsError(f"{spec.name.upper()} must be {kind.__name__}, got {raw!r}") from None
        values.update(overrides)
        return cls(**values)


BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _boolean(raw: str) -> bool:
    """An environment variable as a bool: bool("false") is True, so the words are read instead."""
    try:
        return BOOLEANS[raw.strip().lower()]
    except KeyError:
        raise ValueError(raw) from None
