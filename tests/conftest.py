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


_shared_server_log = []  # the shared server's log path, once it runs
_log_offset = pytest.StashKey[int]()  # where that log stood when a test began


@pytest.fixture(scope="session")
def warmline_server():
    """A real Warmline server on the embedded models, shared by the tests of one run. Yields its base URL."""
    proc, url, log_path = start_server([])
    _shared_server_log.append(log_path)
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that talked to the shared server carries the server's log from while it ran."""
    report = yield
    if call.when == "setup" and _shared_server_log:
        item.stash[_log_offset] = _shared_server_log[0].stat().st_size
    if report.failed and call.when == "call" and "warmline_server" in item.fixturenames and _shared_server_log:
        log = _shared_server_log[0]
        with open(log, "rb") as f:
            f.seek(item.stash.get(_log_offset, 0))
            text = f.read().decode(errors="replace")
        report.sections.append(("server log during this test", text[-6000:]))
    return report

