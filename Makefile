# make serve: set up and start the service on the committed models.
# make test:  set up and run the whole suite (lint included).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
SERVE_VENV ?= .venv-serve
MNIST_DIR ?= $(firstword $(wildcard ../shared/data/mnist) $(wildcard data/mnist))
export MNIST_DIR
# onnxruntime >= 1.29 sends telemetry unless told not to; every command below inherits this (docs/operations.md: Privacy).
export ORT_DISABLE_TELEMETRY ?= 1
PIP_FLAGS ?= -q --disable-pip-version-check
# uv pip compile: the lock files in requirements/*.txt from the top-level requirements in requirements/*.in.
COMPILE = $(VENV)/bin/uv pip compile -q --python-version 3.11 --python-platform x86_64-manylinux_2_28

.PHONY: serve test lint format retrain finetune evaluate peers test-container bench profile soak audit screenshot wrk perf-analyzer pins protos clean

# A change to any pin or to pyproject.toml reinstalls.
$(VENV)/.installed: requirements/dev.txt requirements/train.txt requirements/serve.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -r requirements/dev.txt
	$(VENV)/bin/pip install $(PIP_FLAGS) --no-deps -e .
	touch $@

$(SERVE_VENV)/.installed: requirements/serve.txt
	$(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/pip install $(PIP_FLAGS) -r requirements/serve.txt
	touch $@

serve: $(SERVE_VENV)/.installed
	$(SERVE_VENV)/bin/gunicorn -c service/transport/http/gunicorn.conf.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The served classifiers on both yardsticks: the committed synthetic set (eval/real-world) and real handwriting
# (MNIST's 10,000 test digits in 17 renderings, from MNIST_DIR): accuracy per subset, confusion matrices, and a
# contact sheet of what they got wrong; is_digit's acceptance of those digits, its rejection of eval/non-digits,
# and /read on eval/numbers, eval/amounts and eval/lines. About 10 minutes on 2 cores. make test runs a sample.
# PEERS=1 puts Tesseract and RapidOCR beside /read on the same sets (make peers sets them up; tools/peers).
evaluate: $(VENV)/.installed $(if $(PEERS),peers)
	$(VENV)/bin/python -m training evaluate --set eval/real-world --handwriting --numbers eval/numbers \
		--non-digits eval/non-digits --reading eval/numbers eval/amounts eval/lines $(if $(PEERS),--peers) \
		--contact-sheet eval/misclassified.png --risk-plot docs/risk-coverage.png $(EVALUATE_ARGS)

# The OCR peers, each in an environment of its own and run without a network (tools/peers/README.md).
peers:
	bash tools/peers/setup.sh

# Builds and runs the Docker images with docker-compose (a Docker engine, or ../shared/tools/container-engine).
test-container: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -m container tests/container $(PYTEST_ARGS)

retrain: $(VENV)/.installed
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python -m training $(or $(MODEL),all) $(RETRAIN_ARGS)

# Fine-tune the served CNN on the corrections in FEEDBACK_DIR (the service's own), mixing in MNIST from MNIST_DIR; with
# RELOAD_URL=http://127.0.0.1:8000 it starts from the version served there and loads the new one (docs/training.md).
finetune: $(VENV)/.installed
	@test -n "$(FEEDBACK_DIR)" || { echo "make finetune: set FEEDBACK_DIR to the service's corrections folder" >&2; exit 2; }
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python -m training finetune cnn --from-feedback "$(FEEDBACK_DIR)" \
		$(if $(MODEL_DIR),--model-dir "$(MODEL_DIR)") $(if $(RELOAD_URL),--reload-url "$(RELOAD_URL)") $(FINETUNE_ARGS)

# The service beside its references on loopback; see bench/README.md. PEERS=1 adds KServe's Python server.
bench: $(VENV)/.installed wrk perf-analyzer
	$(VENV)/bin/python -m bench.run $(if $(PEERS),--peers) $(BENCH_ARGS)

# docs/page.png and docs/page-read.png: the drawing page with a drawn digit, and reading a number, in headless Chromium.
screenshot: $(VENV)/.installed
	$(VENV)/bin/python -m tools.screenshot docs/page.png

# Mixed traffic at 32 clients for SOAK_SECONDS (default 60): no failed request, worker memory flat.
soak: $(VENV)/.installed
	$(VENV)/bin/python -m support.soak --seconds $(or $(SOAK_SECONDS),60)

# Known vulnerabilities in the serving image's pinned packages; exits 3, saying so, when it could not check them.
audit: $(VENV)/.installed
	$(VENV)/bin/python tools/audit_deps.py requirements/serve.txt

# Where a request's CPU time goes (py-spy on one worker under load).
profile: $(VENV)/.installed wrk
	$(VENV)/bin/python -m bench.profile $(PROFILE_ARGS)

# Triton's perf_analyzer (from tritonclient 2.41.1's wheel) and the libraries it needs, in .venv-perf/.
perf-analyzer: $(VENV)/.installed
	@test -x .venv-perf/bin/perf_analyzer || $(VENV)/bin/python -m support.perf_analyzer

wrk:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || \
		{ echo "the benchmarks need wrk: apt-get install wrk" >&2; exit 1; }

# Re-lock after editing requirements/*.in (needs PyPI). Existing pins are kept unless an .in file rules them out;
# add --upgrade-package NAME to COMPILE to move one. dev.txt is the full set; serve.txt and train.txt agree with it.
pins: $(VENV)/.installed
	$(COMPILE) requirements/dev.in -o requirements/dev.txt
	$(COMPILE) requirements/serve.in -c requirements/dev.txt -o requirements/serve.txt
	$(COMPILE) requirements/train.in -c requirements/dev.txt -o requirements/train.txt

# Regenerate the gRPC modules in service/transport/grpc/protos from grpc_predict_v2.proto (committed; grpcio-tools).
protos: $(VENV)/.installed
	$(VENV)/bin/python -m grpc_tools.protoc -I. --python_out=. --grpc_python_out=. --pyi_out=. \
		service/transport/grpc/protos/grpc_predict_v2.proto

clean:
	rm -rf $(VENV) $(SERVE_VENV) .venv-perf .pytest_cache .ruff_cache .mypy_cache
