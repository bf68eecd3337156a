"""Shared fixtures: real recorded speech, a real running server, and no network beyond loopback."""
from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
PARALINGUISTICS_DATA = REPO.parent / "shared" / "data" / "paralinguistics"

_real_connect = socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            ip = ipaddress.ip_address(socket.gethostbyname(host) if self.family == socket.AF_INET else host)
        except (OSError, ValueError):
            ip = None
        if ip is None or not ip.is_loopback:
            raise OSError(f"tests may not reach the network (tried {address!r})")
    return _real_connect(self, address)


socket.socket.connect = _loopback_only


def librivox_clips() -> list[tuple[Path, str]]:
    """The five LibriVox clips of Debian's pocketsphinx-testdata, with their transcripts."""
    listing = LIBRIVOX / "transcription"
    if not listing.exists():
        return []
    clips = []
    for line in listing.read_text().splitlines():
        m = re.match(r"<s>\s*(.*?)\s*</s>\s*\((.+)\)", line)
        if m:
            clips.append((LIBRIVOX / f"{m.group(2)}.wav", m.group(1)))
    return clips


@pytest.fixture(scope="session")
def librivox():
    clips = librivox_clips()
    if not clips:
        pytest.skip("Debian package pocketsphinx-testdata is not installed")
    return clips


def _start_server(extra_args: list[str]) -> tuple[subprocess.Popen, str, Path]:
    log_path = Path(os.environ.get("WARMLINE_TEST_LOG_DIR", "/tmp")) / f"warmline-test-server-{os.getpid()}-{time.time_ns()}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", "0", *extra_args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True)
    deadline = time.monotonic() + 240
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
    raise RuntimeError(f"server did not start in time; log:\n{log_path.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def warmline_server():
    """A real Warmline server on the embedded models, shared by the tests of one run. Yields its base URL."""
    proc, url, log_path = _start_server([])
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.returncode not in (0, -15):
            print(f"server log ({log_path}):\n{log_path.read_text()[-3000:]}")


@pytest.fixture
def ws_url(warmline_server):
    return warmline_server.replace("http://", "ws://") + "/v1/realtime"
