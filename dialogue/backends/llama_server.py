"""llama.cpp's own `llama-server` as a supervised child process: one engine that batches many sessions.

`LlamaServer` starts the binary that `scripts/build-llama-server` builds (the llama.cpp that
llama-cpp-python vendors, with the same CPU flags) on 127.0.0.1 and a free port, with `slots` parallel
sequences, continuous batching and per-slot prompt caching; waits for `/health`; restarts it with a
back-off when it dies; stops it (terminate, then kill) on `close()`. Its output goes to the
`warmline.llama_server` log. `dialogue.backends.llama_http.LlamaServerChatModel` talks to it.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger("warmline.llama_server")
BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build-llama-server"


class LlamaServerMissing(RuntimeError):
    pass


class LlamaServerError(RuntimeError):
    pass


def find_binary() -> str:
    """`WARMLINE_LLAMA_SERVER`, else the binary scripts/build-llama-server built for this CPU's flags."""
    named = os.environ.get("WARMLINE_LLAMA_SERVER")
    if named:
        if not os.access(named, os.X_OK):
            raise LlamaServerMissing(f"WARMLINE_LLAMA_SERVER={named} is not an executable file")
        return named
    if BUILD_SCRIPT.exists():
        found = subprocess.run(["bash", str(BUILD_SCRIPT), "--check"], capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip().splitlines()[-1]
    raise LlamaServerMissing("llama-server is not built for this CPU: run `bash scripts/build-llama-server` "
                             "(scripts/install runs it too), or set WARMLINE_LLAMA_SERVER to a llama-server binary")


def gpu_layers(binary: str, device: str) -> str:
    """`--n-gpu-layers` for a device choice: all layers on a GPU the binary can use, none on the CPU."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    if device == "cpu":
        return "0"
    listing = subprocess.run([binary, "--list-devices"], capture_output=True, text=True, timeout=60)
    gpus = [line for line in (listing.stdout + listing.stderr).splitlines()
            if re.match(r"\s+(CUDA|ROCm|Vulkan|Metal|SYCL)\d*:", line)]
    if device == "cuda" and not gpus:
        raise LlamaServerError(f"device='cuda' but {binary} sees no GPU (build it where nvcc is installed: "
                               "scripts/build-llama-server turns CUDA on when it finds nvcc)")
    return "all" if gpus else "0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """A supervised llama-server. `start()` returns once it answers `/health`; `url` is its base URL."""

    def __init__(self, *, model_path: str, slots: int = 4, ctx_per_slot: int = 4096, threads: int = 2,
                 device: str = "auto", binary: str | None = None, cache_ram_mib: int = 1024,
                 prompt_similarity: float = 0.0, start_timeout: float = 300.0, extra_args: tuple[str, ...] = ()) -> None:
        """`prompt_similarity` 0: a request without `id_slot` goes to the least recently used slot (the
        client picks slots itself, `llama_slots`); llama-server's own default is 0.1."""
        if slots < 1:
            raise ValueError("slots must be at least 1")
        if not Path(model_path).is_file():
            raise FileNotFoundError(f"no GGUF file at {model_path}")
        self.binary = binary or find_binary()
        self.model_path, self.slots, self.start_timeout = model_path, slots, start_timeout
        self._args = ["-m", model_path, "--host", "127.0.0.1", "--parallel", str(slots), "--cont-batching",
                      "--cache-prompt", "--ctx-size", str(slots * ctx_per_slot), "--threads", str(threads),
                      "--threads-batch", str(threads), "--n-gpu-layers", gpu_layers(self.binary, device),
                      "--cache-ram", str(cache_ram_mib), "--slot-prompt-similarity", str(prompt_similarity),
                      "--jinja", "--slots", "--metrics", "--no-webui", "--log-colors", "off", *extra_args]
        self.port = 0
        self.restarts = 0
        self._proc: subprocess.Popen | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=40)
        self._ready, self._closing, self._first = threading.Event(), threading.Event(), threading.Event()
        self._failure: BaseException | None = None
        self._watcher: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> "LlamaServer":
        # One long-lived thread starts every process, so the child's parent-death signal (setpriv
        # --pdeathsig, tied to the forking thread) fires only when Warmline itself goes away.
        self._watcher = threading.Thread(target=self._supervise, name="warmline-llama-server", daemon=True)
        self._watcher.start()
        self._first.wait()
        if self._failure is not None:
            self.close()
            raise LlamaServerError(f"llama-server did not start: {self._failure}\n" + "\n".join(self._tail))
        return self

    def wait_ready(self, timeout: float | None = None) -> str:
        """The base URL once the server is healthy (after a restart, once it is back)."""
        deadline = time.monotonic() + (self.start_timeout if timeout is None else timeout)
        while not self._ready.wait(0.1):
            if self._closing.is_set():
                raise LlamaServerError("llama-server is closed")
            if time.monotonic() > deadline:
                raise LlamaServerError("llama-server is not ready (restarting); see the warmline.llama_server log")
        return self.url

    def close(self) -> None:
        self._closing.set()
        self._ready.clear()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log.warning("llama-server (pid %d) ignored SIGTERM; killing it", proc.pid)
                proc.kill()
                proc.wait()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=15)

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _supervise(self) -> None:
        delay = 1.0
        while not self._closing.is_set():
            began = time.monotonic()
            try:
                self._launch()
            except BaseException as exc:
                self._failure = exc
                self._kill_quietly()
            else:
                self._failure = None
                self._ready.set()
            if not self._first.is_set():
                self._first.set()
                if self._failure is not None:
                    return  # a server that never came up is a configuration error, not a crash to retry
            if self._failure is None:
                self._proc.wait()
            self._ready.clear()
            if self._closing.is_set():
                return
            if time.monotonic() - began > 60:
                delay = 1.0  # it ran a while: this is a fresh crash, not a crash loop
            code = self._proc.returncode if self._proc is not None else None
            log.warning("llama-server exited (code %s%s); restarting in %.0f s. Last output:\n%s", code,
                        f", {self._failure}" if self._failure else "", delay, "\n".join(list(self._tail)[-8:]))
            self._closing.wait(delay)
            delay = min(delay * 2, 30.0)
            self.restarts += 1

    def _launch(self) -> None:
        self.port = free_port()
        command = [self.binary, *self._args, "--port", str(self.port)]
        if shutil.which("setpriv"):  # the child dies with us even if we are killed outright
            command = ["setpriv", "--pdeathsig", "KILL", "--", *command]
        log.info("starting llama-server on %s: %s", self.url, " ".join(command))
        self._proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, errors="replace")
        threading.Thread(target=self._pump, args=(self._proc,), name="warmline-llama-server-log", daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._closing.is_set():
                raise LlamaServerError("closed while starting")
            if self._proc.poll() is not None:
                raise LlamaServerError(f"exited with code {self._proc.returncode} while starting")
            if self._healthy():
                log.info("llama-server ready on %s (pid %d, %d slots)", self.url, self._proc.pid, self.slots)
                return
            time.sleep(0.1)
        raise LlamaServerError(f"no healthy /health within {self.start_timeout:.0f} s")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                return response.status == 200 and json.load(response).get("status") == "ok"
        except (OSError, ValueError):  # refused while binding, 503 while loading the model
            return False

    def _pump(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            line = line.rstrip()
            if not line:
                continue
            self._tail.append(line)
            failing = re.search(r"\berror\b|\bfailed\b|\bexception\b", line, re.IGNORECASE)
            log.log(logging.WARNING if failing else logging.DEBUG, "%s", line)

    def _kill_quietly(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
