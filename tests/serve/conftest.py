"""Real servers for the serving tests: a tiny random-weight LM + codec saved to disk, served
by ``llasa serve`` in a subprocess (the shipped entry point) or by uvicorn in a thread (for
settings such as a one-slot queue). No mocks: every request runs the real pipeline."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

MAX_NEW_TOKENS = 400  # server-side cap used by the test servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_tts(tiny_model_dir):
    from llasa.tts import Llasa

    return Llasa.from_pretrained(lm=tiny_model_dir / "lm", codec=tiny_model_dir / "codec",
                                 device="cpu")


class ThreadServer:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def thread_server(tiny_tts, tmp_path):
    """Factory: ``thread_server(**ServeSettings fields)`` → running ThreadServer (context)."""
    from llasa.serve import LlasaEngine, ServeSettings, create_app

    def make(**kw):
        kw.setdefault("data_dir", tmp_path / "data")
        kw.setdefault("max_new_tokens", MAX_NEW_TOKENS)
        settings = ServeSettings(**kw)
        return ThreadServer(create_app(LlasaEngine(tiny_tts, settings), settings))

    return make


@pytest.fixture(scope="session")
def cli_server(tiny_model_dir, tmp_path_factory):
    """``llasa serve`` in a subprocess on a free port; yields its base URL."""
    port = free_port()
    data = tmp_path_factory.mktemp("serve-data")
    env = dict(os.environ, HF_HUB_OFFLINE="1", LLASA_QUIET="1", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "llasa.cli", "serve", "--port", str(port),
           "--lm", str(tiny_model_dir / "lm"), "--codec", str(tiny_model_dir / "codec"),
           "--device", "cpu", "--data-dir", str(data), "--max-new-tokens",
           str(MAX_NEW_TOKENS), "--log-level", "warning"]
    log = open(data / "server.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail("llasa serve exited:\n" + (data / "server.log").read_text())
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("llasa serve did not answer /health in 120 s")
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    # The server must never have died on bad input during the tests.
    assert proc.returncode in (0, -15), (data / "server.log").read_text()


@pytest.fixture
def serve_app():
    """Factory: ``serve_app(app)`` → a ThreadServer (context) for an app the test built."""
    return ThreadServer
