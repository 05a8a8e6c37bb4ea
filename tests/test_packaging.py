"""The package installs and serves: `pip install` of digit-serve's wheel into a fresh virtual environment brings
everything the service imports, and its gunicorn, run outside this checkout, answers /readyz, /openapi.json and
gRPC's ServerReady.

The wheel is built here without a network (the dev environment's setuptools); its requirements come from the
package index this machine's pip is configured with, pinned by requirements/serve.txt, as `make serve` installs
them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import requests
import tritonclient.grpc as grpcclient

from support.server import ROOT, running_server, unused_port, wait_grpc_ready

INSTALL_TIMEOUT_S = 600
PACKAGED = ("pyproject.toml", "README.md", "requirements", "service", "training")


def _requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a requirements file: no comments, no options (`-r`, `-c`)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_package_requires_what_the_requirements_files_say():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "dependencies" in project["dynamic"]
    train = _requirement_lines(ROOT / "requirements" / "train.in")
    assert sorted(project["optional-dependencies"]["train"]) == sorted(train)
    serving = {_name(line) for line in _requirement_lines(ROOT / "requirements" / "serve.in")}
    # What the serving side imports, by distribution name: each must be a requirement of the package.
    imported = ("onnxruntime", "numpy", "pillow", "flask", "werkzeug", "gunicorn", "orjson", "pyyaml", "grpcio")
    imported += ("grpcio-health-checking", "grpcio-reflection", "prometheus-client", "swagger-ui-bundle")
    assert [name for name in imported if name not in serving] == []


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT_S + 120)
def test_the_installed_package_serves_http_and_grpc(tmp_path):
    # Built from a copy of what the wheel is made of: setuptools leaves build/ in the tree it builds, and a stale
    # build/lib there would put modules that have since moved into the wheel.
    source = tmp_path / "source"
    source.mkdir()
    for part in PACKAGED:
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__", "runs"))
        else:
            shutil.copy2(ROOT / part, source / part)
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    subprocess.run([*build, str(source)], check=True, timeout=300)
    (wheel,) = wheels.glob("digit_serve-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "-c", str(ROOT / "requirements" / "serve.txt"), str(wheel)],
        check=True, timeout=INSTALL_TIMEOUT_S,
    )  # fmt: skip
    found = subprocess.run(
        [python, "-c", "import json, pathlib, service; print(json.dumps([service.__version__, service.__file__]))"],
        cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    version, where = json.loads(found.stdout)
    assert not Path(where).is_relative_to(ROOT), "the test must serve the installed copy, not this checkout"
    config = Path(where).parent / "transport" / "http" / "gunicorn.conf.py"

    port = unused_port()
    with running_server(
        tmp_path, python=python, config=config, cwd=tmp_path,
        MODEL_DIR=str(ROOT / "models"), WORKERS="1", GRPC_PORT=str(port),
    ) as server:  # fmt: skip
        assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200
        document = requests.get(f"{server.url}/openapi.json", timeout=10)
        assert document.status_code == 200
        assert document.json()["info"]["version"] == version
        with grpcclient.InferenceServerClient(f"127.0.0.1:{port}") as client:
            wait_grpc_ready(client, why=lambda: server.log()[-3000:])
            assert client.is_server_ready()
            assert client.get_server_metadata().version == version
