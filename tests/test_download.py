"""Downloads against a loopback HTTP server: resume, size and hash checks, zip-slip."""

from __future__ import annotations

import hashlib
import http.server
import io
import re
import threading
import zipfile
from typing import ClassVar

import pytest

from ganaug.data.download import DownloadError, download, fetch_isic2019, safe_extract


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


def test_download_and_verify(server, tmp_path):
    url, h = server
    h.files["a.bin"] = bytes(range(256)) * 100
    digest = hashlib.sha256(h.files["a.bin"]).hexdigest()
    out = download(url + "a.bin", tmp_path / "a.bin", sha256=digest, progress=False)
    assert out.read_bytes() == h.files["a.bin"]
    assert not (tmp_path / "a.bin.part").exists()


def test_resume_asks_only_for_the_rest(server, tmp_path):
    url, h = server
    h.files["a.bin"] = bytes(range(256)) * 100
    (tmp_path / "a.bin.part").write_bytes(h.files["a.bin"][:1000])
    download(url + "a.bin", tmp_path / "a.bin", progress=False)
    assert (tmp_path / "a.bin").read_bytes() == h.files["a.bin"]
    assert h.requests == [("a.bin", "bytes=1000-")]


def test_short_transfer_fails_and_keeps_the_part_for_resuming(server, tmp_path):
    url, h = server
    h.files["a.bin"] = b"x" * 10000
    h.short.add("a.bin")
    with pytest.raises(DownloadError, match="got 5000 bytes, the server announced 10000"):
        download(url + "a.bin", tmp_path / "a.bin", progress=False)
    assert not (tmp_path / "a.bin").exists() and (tmp_path / "a.bin.part").stat().st_size == 5000
    h.short.clear()
    download(url + "a.bin", tmp_path / "a.bin", progress=False)
    assert (tmp_path / "a.bin").read_bytes() == h.files["a.bin"]


def test_hash_mismatch(server, tmp_path):
    url, h = server
    h.files["a.bin"] = b"abc"
    with pytest.raises(DownloadError, match="SHA-256"):
        download(url + "a.bin", tmp_path / "a.bin", sha256="0" * 64, progress=False)
    assert not (tmp_path / "a.bin").exists()


def test_http_error_names_the_url(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match=r"missing.bin: HTTP 404"):
        download(url + "missing.bin", tmp_path / "m", progress=False)


def make_zip(members: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize(
    "members",
    [{"../evil.txt": b"x"}, {"/abs/evil.txt": b"x"}, {"ok/../../evil.txt": b"x"}, {"C:/evil.txt": b"x"}],
    ids=["dotdot", "absolute", "nested-dotdot", "drive"],
)
def test_zip_slip_is_refused_before_anything_is_written(tmp_path, members):
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"fine.txt": b"ok", **members}))
    with pytest.raises(DownloadError, match="unsafe archive member"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "fine.txt").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_zip_symlink_is_refused(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"fine.txt": b"ok"}, symlink="link"))
    with pytest.raises(DownloadError, match="symbolic link"):
        safe_extract(archive, tmp_path / "out")


def test_fetch_isic2019_end_to_end(server, tmp_path):
    url, h = server
    h.files["ISIC_2019_Training_GroundTruth.csv"] = b"image,MEL\n"
    h.files["ISIC_2019_Training_Metadata.csv"] = b"image,lesion_id\n"
    h.files["ISIC_2019_Training_Input.zip"] = make_zip(
        {"ISIC_2019_Training_Input/ISIC_0000000.jpg": b"jpeg", "ISIC_2019_Training_Input/LICENSE.txt": b"cc"}
    )
    root = tmp_path / "isic2019"
    sha = {"ISIC_2019_Training_GroundTruth.csv": hashlib.sha256(b"image,MEL\n").hexdigest()}
    fetch_isic2019(
        url,
        root / "ISIC_2019_Training_Input",
        root / "ISIC_2019_Training_GroundTruth.csv",
        root / "ISIC_2019_Training_Metadata.csv",
        sha,
    )
    assert (root / "ISIC_2019_Training_Input" / "ISIC_0000000.jpg").read_bytes() == b"jpeg"
    assert (root / "ISIC_2019_Training_GroundTruth.csv").read_bytes() == b"image,MEL\n"
    assert sorted(p.name for p in root.iterdir()) == [
        "ISIC_2019_Training_GroundTruth.csv",
        "ISIC_2019_Training_Input",
        "ISIC_2019_Training_Input.zip",
        "ISIC_2019_Training_Metadata.csv",
    ]
    # a second call finds everything in place and asks the server for nothing
    n = len(h.requests)
    fetch_isic2019(
        url,
        root / "ISIC_2019_Training_Input",
        root / "ISIC_2019_Training_GroundTruth.csv",
        root / "ISIC_2019_Training_Metadata.csv",
        {},
    )
    assert len(h.requests) == n


def test_fetch_weights_from_a_loopback_mirror_with_hash_checks(server, tmp_path):
    """fetch_weights' machinery: resumable download by name from a mirror, then the SHA-256
    prefix in the file name (torch.hub's convention) is checked; a corrupt file is removed."""
    from ganaug.weights import WeightFile, fetch

    url, h = server
    good = b"stand-in weights " * 100
    prefix = hashlib.sha256(good).hexdigest()[:8]
    h.files[f"standin-{prefix}.pth"] = good
    h.files["broken-0badc0de.pth"] = b"not what the name promises"
    files = [WeightFile(f"standin-{prefix}.pth", "https://example.invalid/x", "test")]
    (path,) = fetch(files, tmp_path, mirror=url)
    assert path == tmp_path / "hub" / "checkpoints" / f"standin-{prefix}.pth"
    assert path.read_bytes() == good
    n = len(h.requests)
    fetch(files, tmp_path, mirror=url)  # already cached: nothing is fetched again
    assert len(h.requests) == n
    with pytest.raises(ValueError, match="does not start with 0badc0de; file removed"):
        fetch([WeightFile("broken-0badc0de.pth", "https://example.invalid/y", "test")], tmp_path, mirror=url)
    assert not (tmp_path / "hub" / "checkpoints" / "broken-0badc0de.pth").exists()
    # a bad file that was in the cache before (put there by hand, or a shared cache) is reported,
    # never deleted
    mine = tmp_path / "hub" / "checkpoints" / "mine-0badc0de.pth"
    mine.write_bytes(b"the user's own file")
    with pytest.raises(ValueError, match="already in the cache and is left as it is"):
        fetch([WeightFile("mine-0badc0de.pth", "https://example.invalid/z", "test")], tmp_path, mirror=url)
    assert mine.read_bytes() == b"the user's own file"


def test_fid_weights_are_checked_by_loading_them(server, tmp_path):
    """The FID Inception file's name carries no SHA-256 prefix: a fetched file must load into the
    architecture with every key and shape, else it is removed."""
    import io

    import torch

    from ganaug.evaluation.features import FID_WEIGHTS, build_extractor, fid_inception_architecture
    from ganaug.weights import fetch

    url, h = server
    buf = io.BytesIO()
    torch.save(fid_inception_architecture().state_dict(), buf)
    h.files[FID_WEIGHTS.name] = buf.getvalue()
    fetch([FID_WEIGHTS], tmp_path / "good", mirror=url)
    assert build_extractor("inception", tmp_path / "good").comparable
    h.files[FID_WEIGHTS.name] = buf.getvalue()[: len(buf.getvalue()) // 2]  # truncated
    with pytest.raises(ValueError, match=r"not the FID Inception weights.*file removed"):
        fetch([FID_WEIGHTS], tmp_path / "bad", mirror=url)
    assert not (tmp_path / "bad" / "hub" / "checkpoints" / FID_WEIGHTS.name).exists()


def test_required_weight_files_follow_the_config():
    import yaml

    from ganaug.config import validate_config
    from ganaug.weights import required_files

    from .conftest import REPO

    full = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    names = sorted(f.name for f in required_files(full))
    assert names == sorted(
        [
            "resnet50-11ad3fa6.pth",
            "densenet121-a639ec97.pth",
            "efficientnet_b0_rwightman-7f5810bc.pth",
            "vgg16-397923af.pth",
            "pt_inception-2015-12-05-6726825d.pth",
        ]
    )
    demo = validate_config(yaml.safe_load((REPO / "config" / "demo.yaml").read_text()))
    assert required_files(demo) == []


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os

    from ganaug.io import write_bytes

    write_bytes(b"x", tmp_path / "f.bin")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temporary file left behind
