"""Shared fixtures. The package is importable through ``pythonpath = scripts`` (pyproject), and
this folder as ``tests`` (the repository root is on the path too)."""

from __future__ import annotations

import http.server
import os
import re
import threading
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from tests.helpers import CORES_EACH, FIXTURES, REPO

# each xdist worker's share of the cores (see tests/helpers.py), for torch in this process and for
# every process it starts
os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(CORES_EACH)
torch.set_num_threads(CORES_EACH)


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` with Range support; ``short`` files announce more bytes than they send."""

    files: ClassVar[dict[str, bytes]] = {}
    short: ClassVar[set[str]] = set()
    requests: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self):
        name = self.path.lstrip("/")
        self.requests.append((name, self.headers.get("Range")))
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        m = re.match(r"bytes=(\d+)-", self.headers.get("Range") or "")
        start = int(m.group(1)) if m else 0
        if start >= len(body) and m:
            self.send_response(416)
            self.end_headers()
            return
        self.send_response(206 if m else 200)
        if m:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        self.wfile.write(payload[: len(payload) // 2] if name in self.short else payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.files, Handler.short, Handler.requests = {}, set(), []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", Handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def lpips_model():
    """The lpips package's LPIPS(net='vgg') with a seeded random VGG trunk (offline)."""
    from ganaug.curation.lpips_fast import build_lpips

    return build_lpips("random", "/nonexistent-cache", seed=42)
