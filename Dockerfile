# syntax=docker/dockerfile:1
# Targets:
#   serve      (default) python:3.11-slim + the serving dependencies + service/ + models/, non-root
#   train      the training dependencies; `python -m training` writes into /models, reads MNIST from /data/mnist
#   serve-gpu  NVIDIA CUDA 12 + cuDNN 9 runtime + onnxruntime-gpu, DEVICE=cuda (needs an NVIDIA host)
#
# Every stage sets ORT_DISABLE_TELEMETRY=1: onnxruntime >= 1.29 otherwise queues and uploads telemetry.
#
# Behind a TLS-intercepting proxy, put its CA bundle at .build-ca.pem in the context: the dependency
# stages give it to pip. It never reaches the serve image (only the finished virtual environment does).
ARG PYTHON_IMAGE=python:3.11-slim

# ---- dependencies, each set in a virtual environment that later stages copy whole ----
FROM ${PYTHON_IMAGE} AS serve-deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 ORT_DISABLE_TELEMETRY=1
COPY requirements/ .build-ca.pe[m] /tmp/build/
RUN if [ -f /tmp/build/.build-ca.pem ]; then export PIP_CERT=/tmp/build/.build-ca.pem; fi \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile -r /tmp/build/serve.txt \
    && find /opt/venv -name '*.js.map' -delete \
    && find /opt/venv -depth -name '__pycache__' -type d -exec rm -rf {} +

FROM ${PYTHON_IMAGE} AS train-deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 ORT_DISABLE_TELEMETRY=1
COPY requirements/ .build-ca.pe[m] /tmp/build/
RUN if [ -f /tmp/build/.build-ca.pem ]; then export PIP_CERT=/tmp/build/.build-ca.pem; fi \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install -r /tmp/build/train.txt

# ---- training image ----
FROM ${PYTHON_IMAGE} AS train
ENV PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2 MODEL_DIR=/models MNIST_DIR=/data/mnist \
    MPLCONFIGDIR=/tmp/matplotlib PATH=/opt/venv/bin:$PATH ORT_DISABLE_TELEMETRY=1
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin app \
    && mkdir -p /models /data/mnist \
    && chown app:app /models
COPY --from=train-deps /opt/venv /opt/venv
WORKDIR /app
COPY training/ /app/training/
# The CNN's degraded training copies go through the service's own preprocessing (training/datasets/degrade.py).
COPY service/ /app/service/
USER 10001
ENTRYPOINT ["python", "-m", "training"]
CMD ["all"]

# ---- GPU serving image: CUDA 12 + cuDNN 9, which onnxruntime-gpu 1.32 is built against ----
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS serve-gpu
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH DEVICE=cuda HOST=0.0.0.0 PORT=8000 MODEL_DIR=/app/models ORT_DISABLE_TELEMETRY=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.12=3.12.* python3.12-venv=3.12.* curl=8.* \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/ .build-ca.pe[m] /tmp/build/
RUN if [ -f /tmp/build/.build-ca.pem ]; then export PIP_CERT=/tmp/build/.build-ca.pem; fi \
    && python3.12 -m venv /opt/venv \
    && sed 's/^onnxruntime==/onnxruntime-gpu==/' /tmp/build/serve.txt > /tmp/build/serve-gpu.txt \
    && /opt/venv/bin/pip install --no-compile -r /tmp/build/serve-gpu.txt \
    && rm -rf /tmp/build
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY service/ /app/service/
COPY --chown=10001:10001 models/ /app/models/
# FEEDBACK_DIR's mount point, owned by the service's user: a volume mounted there starts out writable by it.
RUN mkdir /app/feedback && chown 10001:10001 /app/feedback
USER 10001
EXPOSE 8000 8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8000/readyz"]
CMD ["gunicorn", "-c", "service/transport/http/gunicorn.conf.py"]

# ---- CPU serving image (the default target) ----
FROM ${PYTHON_IMAGE} AS serve
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0 PORT=8000 MODEL_DIR=/app/models DEVICE=cpu ORT_DISABLE_TELEMETRY=1
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=serve-deps /opt/venv /opt/venv
WORKDIR /app
COPY service/ /app/service/
COPY --chown=10001:10001 models/ /app/models/
# Where docker-compose's named volume keeps corrections (FEEDBACK_DIR): a new volume takes this folder's owner.
RUN mkdir /app/feedback && chown 10001:10001 /app/feedback
USER 10001
EXPOSE 8000 8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-m", "service.healthcheck"]
CMD ["gunicorn", "-c", "service/transport/http/gunicorn.conf.py"]
