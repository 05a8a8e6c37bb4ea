# make serve: set up and start the service on the committed models.
# make test:  set up and run the whole suite (lint included).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
SERVE_VENV ?= .venv-serve
MNIST_DIR ?= $(firstword $(wildcard ../shared/data/mnist) $(wildcard data/mnist))
export MNIST_DIR
# onnxruntime >= 1.29 sends telemetry unless told not to; every command below inherits this (README: Privacy).
export ORT_DISABLE_TELEMETRY ?= 1
PIP_FLAGS ?= -q --disable-pip-version-check

.PHONY: serve test lint retrain test-container bench clean

$(VENV)/.installed: requirements/serve.txt requirements/train.txt requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -r requirements/dev.txt
	$(VENV)/bin/pip install $(PIP_FLAGS) --no-deps -e .
	touch $@

$(SERVE_VENV)/.installed: requirements/serve.txt
	$(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/pip install $(PIP_FLAGS) -r requirements/serve.txt
	touch $@

serve: $(SERVE_VENV)/.installed
	$(SERVE_VENV)/bin/gunicorn -c service/gunicorn.conf.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test: lint
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Builds and runs the Docker images with docker-compose (a Docker engine, or ../shared/tools/container-engine).
test-container: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -m container tests/container $(PYTEST_ARGS)

retrain: $(VENV)/.installed
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python -m training $(or $(MODEL),all) $(RETRAIN_ARGS)

clean:
	rm -rf $(VENV) $(SERVE_VENV) .pytest_cache .ruff_cache
