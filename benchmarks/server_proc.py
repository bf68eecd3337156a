"""Start a real `warmline serve` in a subprocess on a free port and wait until it is ready."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def start_server(extra_args: list[str] = (), *, timeout: float = 300) -> tuple[subprocess.Popen, str, Path]:
    """Returns (process, base URL like http://127.0.0.1:PORT, log path)."""
    log_dir = Path(os.environ.get("WARMLINE_TEST_LOG_DIR", "/tmp"))
    log_path = log_dir / f"warmline-server-{os.getpid()}-{time.time_ns()}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", "0", *extra_args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; log:\n{log_path.read_text()[-4000:]}")
            continue
        m = re.search(r"open (http://\S+?)/? in a browser", line)
        if m:
            return proc, m.group(1).rstrip("/"), log_path
    proc.kill()
    raise RuntimeError(f"server did not start in {timeout} s; log:\n{log_path.read_text()[-4000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def running_server(extra_args: list[str] = ()):
    proc, url, log_path = start_server(list(extra_args))
    try:
        yield url
    finally:
        stop_server(proc)
