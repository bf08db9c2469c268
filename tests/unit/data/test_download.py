"""Resumable verified downloads, zip-slip refusal, and atomic writes."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from ganaug.data.download import DownloadError, download, fetch_isic2019, safe_extract


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


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os

    from ganaug.io import write_bytes

    write_bytes(b"x", tmp_path / "f.bin")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temporary file left behind
