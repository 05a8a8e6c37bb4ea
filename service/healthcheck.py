"""Container health check and drain hook.

    python -m service.healthcheck               exit 0 when this host's service answers /readyz with 200, else 1
    python -m service.healthcheck --drain 5     turn readiness to 503 (a file in STATE_DIR), then wait 5 s

The drain is a Kubernetes preStop hook: load balancers stop sending new requests while the pod is still
serving the ones they sent, and only then does SIGTERM start gunicorn's graceful shutdown. Reads PORT
(default 8000) and STATE_DIR; needs no curl in slim images.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from service.settings import DRAIN_FILE_NAME


def check() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


def drain(seconds: float) -> int:
    state_dir = os.environ.get("STATE_DIR")
    if not state_dir:
        print("--drain needs STATE_DIR, the directory the server's workers share", file=sys.stderr)
        return 2
    (Path(state_dir) / DRAIN_FILE_NAME).touch()
    time.sleep(seconds)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--drain"]:
        return drain(float(argv[1]) if len(argv) > 1 else 5.0)
    return check()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
