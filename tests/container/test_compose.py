"""docker-compose really builds and runs the images: api up and healthy, predictions, a retrain that the api loads.

Needs a Docker engine: $DOCKER_HOST or the default socket, else ../shared/tools/container-engine (podman
with a Docker-compatible socket). Without either the test is skipped, loudly. Only loopback ports.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from support.server import ROOT, unused_port, wait_grpc_ready, wait_until
from tests.fixtures import NEWEST
from tests.images import png

pytestmark = pytest.mark.container
ENGINE_TOOL = ROOT.parent / "shared" / "tools" / "container-engine"
PROJECT = "digitservetest"


def _docker_env() -> dict[str, str] | None:
    env = dict(os.environ)
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "info"], capture_output=True, env=env, timeout=30).returncode == 0
    ):
        return env
    if ENGINE_TOOL.exists():
        result = subprocess.run([str(ENGINE_TOOL), "up"], capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.fail(f"{ENGINE_TOOL} up failed ({result.returncode}): {result.stderr[-2000:]}")
        for line in result.stdout.splitlines():
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").partition("=")
                env[key] = value.strip("'\"")
        return env
    return None


def _ca_bundle(env: dict[str, str]) -> Path | None:
    """The CA bundle this host trusts (a TLS-intercepting proxy's CA included), for pip inside the build."""
    for candidate in (
        env.get("PIP_CERT"),
        env.get("REQUESTS_CA_BUNDLE"),
        env.get("SSL_CERT_FILE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


@pytest.fixture(scope="module")
def compose(mnist_dir):
    env = _docker_env()
    command = _compose_command()
    if env is None or command is None:
        message = "NO DOCKER ENGINE AND NO container-engine TOOL: the container test did NOT run"
        print(f"\n{'!' * 20} {message} {'!' * 20}")
        pytest.skip(message)
    bundle = _ca_bundle(env)
    if bundle:
        shutil.copy(bundle, ROOT / ".build-ca.pem")
    port, grpc_port = unused_port(), unused_port()
    env.update(GRPC_HOST_PORT=str(grpc_port))
    env.update(
        API_HOST_IP="127.0.0.1",
        API_PORT=str(port),
        ADMIN_TOKEN=secrets.token_hex(16),
        WORKERS="2",
        MNIST_DIR=str(mnist_dir),
        COMPOSE_PROJECT_NAME=PROJECT,
    )

    def run(*args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    try:
        yield run, f"http://127.0.0.1:{port}", env
    finally:
        run("--profile", "train", "down", "-v", "--remove-orphans", timeout=180, check=False)


def _container_id(run) -> str:
    return run("ps", "-q", "api").stdout.strip()


def _wait_healthy(run, env: dict[str, str], timeout: float = 180) -> None:
    container = _container_id(run)
    seen: list[str] = []

    def healthy() -> bool:
        state = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Health.Status}}", container],
            capture_output=True,
            text=True,
            env=env,
        ).stdout.strip()
        seen.append(state)
        if state == "starting" and shutil.which("podman"):
            # podman runs health checks from systemd timers; without systemd, run the image's check by hand
            subprocess.run(["podman", "healthcheck", "run", container], capture_output=True, env=env)
        return state == "healthy"

    wait_until(
        healthy, timeout, lambda: f"the api to be healthy (last state {seen[-1] if seen else None!r})", interval=2
    )


def _check_grpc(target: str, pixels: list, labels: list[int]) -> None:
    """The README's gRPC example: tritonclient.grpc on port 8001 gets the same digits as HTTP."""
    import numpy as np
    import tritonclient.grpc as grpcclient

    with grpcclient.InferenceServerClient(target) as client:
        wait_grpc_ready(client, timeout=60)
        tensor = grpcclient.InferInput("pixels", [len(pixels), 784], "FP32")
        tensor.set_data_from_numpy(np.array(pixels, dtype=np.float32))
        result = client.infer("mlp", [tensor]).as_numpy("probabilities")
    assert result.argmax(axis=1).tolist() == labels


def _image_env(image: str, env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Env}}", image],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# Two image builds (the training one installs TensorFlow) and a training run, each bounded by its own timeout
# below: on a cold cache or a slow machine that is more than the suite's 300 s per test.
@pytest.mark.timeout(1800)
def test_compose_up_predict_retrain_and_reload(compose, mnist_sample):
    run, url, env = compose
    run("up", "-d", "--build", "api")
    _wait_healthy(run, env)
    assert "ORT_DISABLE_TELEMETRY=1" in _image_env("digit-serve:latest", env)
    container_env = subprocess.run(
        ["docker", "inspect", "--format", "{{json .Config.Env}}", _container_id(run)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    ).stdout
    assert "ORT_DISABLE_TELEMETRY=1" in json.loads(container_env)
    uid = subprocess.run(
        ["docker", "exec", _container_id(run), "id", "-u"], capture_output=True, text=True, env=env, timeout=60
    ).stdout.strip()
    assert uid == "10001"  # the service runs as the image's non-root user
    images, labels = mnist_sample

    response = requests.post(f"{url}/predict", data=png(images[0]), headers={"Content-Type": "image/png"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["label"] == labels[0]
    assert response.json()["predictions"][0]["is_digit"] is True  # the image holds the isdigit model too
    number = (ROOT / "examples" / "number_on_paper.jpg").read_bytes()
    response = requests.post(f"{url}/read", data=number, headers={"Content-Type": "image/jpeg"}, timeout=30)
    assert response.status_code == 200 and response.json()["text"] == "2026", response.text
    pixels = (images[:10] / 255.0).reshape(10, 784).round(4).tolist()
    response = requests.post(f"{url}/predict", json={"model": "mlp", "inputs": pixels}, timeout=30)
    assert [p["label"] for p in response.json()["predictions"]] == labels[:10].tolist()
    assert requests.get(f"{url}/models/cnn", timeout=10).json()["served_version"] == NEWEST["cnn"]
    _check_grpc(f"127.0.0.1:{env['GRPC_HOST_PORT']}", pixels, labels[:10].tolist())

    run("--profile", "train", "build", "train", timeout=1500)  # `run` alone would reuse a stale image
    assert "ORT_DISABLE_TELEMETRY=1" in _image_env("digit-serve-train:latest", env)
    # --no-deps: the api is up and healthy (checked above); podman without systemd never marks it healthy by itself
    result = run(
        "--profile",
        "train",
        "run",
        "--rm",
        "--no-deps",
        "train",
        "cnn",
        "--limit",
        "5000",
        "--epochs",
        "1",
        "--min-accuracy",
        "0.3",
        "--no-keras",
        "--reload-url",
        "http://api:8000",
        timeout=1200,
    )
    assert "/v2/repository/models/cnn/load: 200" in result.stdout

    retrained = NEWEST["cnn"] + 1  # published by the run above into the compose volume
    assert requests.get(f"{url}/models/cnn", timeout=10).json()["served_version"] == retrained
    for _ in range(10):
        response = requests.post(
            f"{url}/predict", data=png(images[1]), headers={"Content-Type": "image/png"}, timeout=30
        )
        assert response.json()["version"] == retrained


PREDICT_INSIDE = """
import json, sys, urllib.request
body = json.dumps({"model": "linear", "inputs": [1.0, 2.0]}).encode()
request = urllib.request.Request("http://127.0.0.1:8000/predict", body, {"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=10) as answer:
    print(answer.status, answer.read().decode())
"""


FEEDBACK_INSIDE = """
import io, os, urllib.request
from PIL import Image, ImageDraw
image = Image.new("L", (28, 28), 0)
ImageDraw.Draw(image).line([(14, 4), (14, 24)], fill=255, width=3)
buffer = io.BytesIO()
image.save(buffer, "PNG")
request = urllib.request.Request(
    "http://127.0.0.1:8000/feedback?label=1", buffer.getvalue(), {"Content-Type": "image/png"}
)
with urllib.request.urlopen(request, timeout=10) as answer:
    print(answer.status, " ".join(sorted(os.listdir("/app/feedback"))))
"""


def _pod_manifest(tmp_path: Path) -> Path:
    """The Deployment as committed, with one replica: podman publishes every containerPort on the host, so two
    replicas on one machine would collide on port 8000, which pods on separate nodes of a cluster never do."""
    import yaml

    deployment = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())
    deployment["spec"]["replicas"] = 1
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment))
    return path


def test_the_kubernetes_deployment_runs_under_its_own_settings(compose, tmp_path):
    """podman kube play the Deployment with the serve image the compose test built: non-root, read-only root
    filesystem with only its declared writable /tmp, limits and probes as written. The pod is reached from
    inside (podman exec, its own loopback): its address is on a private network this test must not target."""
    run, _, env = compose
    run("build", "api", timeout=1500)
    manifest = _pod_manifest(tmp_path)

    def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=timeout)

    # The claim becomes a podman volume that `kube down` keeps: start from an empty one, and leave none behind.
    podman("volume", "rm", "--force", "digit-serve-feedback")
    played = podman("kube", "play", "--replace", str(manifest), timeout=300)
    try:
        assert played.returncode == 0, played.stderr
        container = "digit-serve-pod-0-api"
        wait_until(
            lambda: podman("exec", container, "python", "-m", "service.healthcheck").returncode == 0,
            120,
            lambda: f"the pod to be healthy: {podman('logs', container).stderr[-3000:]}",
            interval=2,
        )
        assert podman("exec", container, "id", "-u").stdout.strip() == "10001"
        assert podman("exec", container, "sh", "-c", "touch /app/written").returncode != 0  # read-only root
        assert podman("exec", container, "sh", "-c", "touch /tmp/written").returncode == 0  # its emptyDir
        answer = podman("exec", container, "python", "-c", PREDICT_INSIDE)
        assert answer.stdout.startswith("200 "), answer.stdout + answer.stderr
        assert json.loads(answer.stdout.split(" ", 1)[1])["model"] == "linear"
        inspected = json.loads(podman("inspect", container).stdout)[0]
        assert inspected["HostConfig"]["ReadonlyRootfs"] is True
        assert inspected["HostConfig"]["Memory"] == 1024 * 1024 * 1024  # the manifest's limit
        assert "ORT_DISABLE_TELEMETRY=1" in inspected["Config"]["Env"]
        # Corrections go to the claimed volume, in a SQLite file of this pod's own.
        stored = podman("exec", container, "python", "-c", FEEDBACK_INSIDE)
        assert stored.stdout.startswith("201 "), stored.stdout + stored.stderr
        assert any(name.startswith("feedback-") and name.endswith(".sqlite") for name in stored.stdout.split()[1:])
    finally:
        podman("kube", "down", str(manifest), timeout=120)
        podman("volume", "rm", "--force", "digit-serve-feedback")
