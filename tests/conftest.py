"""Shared fixtures: real recorded speech, a real running server, and no network beyond loopback."""
from __future__ import annotations

import ipaddress
import os
import socket

import pytest

from benchmarks.data import librivox_clips, paralinguistics_root
from benchmarks.server_proc import start_server, stop_server

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


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


@pytest.fixture(scope="session")
def librivox():
    clips = librivox_clips()
    if not clips:
        pytest.skip("Debian package pocketsphinx-testdata is not installed")
    return clips


@pytest.fixture(scope="session")
def warmline_server():
    """A real Warmline server on the embedded models, shared by the tests of one run. Yields its base URL."""
    proc, url, log_path = start_server([])
    try:
        yield url
    finally:
        stop_server(proc)
        if proc.returncode not in (0, -15):
            print(f"server log ({log_path}):\n{log_path.read_text()[-3000:]}")


@pytest.fixture
def ws_url(warmline_server):
    return warmline_server.replace("http://", "ws://") + "/v1/realtime"


@pytest.fixture(scope="session")
def paralinguistics_data():
    root = paralinguistics_root()
    if root is None:
        pytest.skip("the shared labelled speech (../shared/data/paralinguistics) is not here")
    return root
