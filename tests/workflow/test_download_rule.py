"""The ISIC 2019 download rule against a loopback server: into the workflow's own folder,
protected, never fetched twice."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from ganaug.data.phantom import write_phantom
from ganaug.settings import PhantomConfig
from tests.helpers import REPO, run, tool

SNAKEFILE = str(REPO / "workflow" / "Snakefile")

DEMO = str(REPO / "config" / "demo.yaml")


def snakemake(workdir: Path, *args: str, timeout: float = 600):
    return run([tool("snakemake"), "-s", SNAKEFILE, "-d", str(workdir), *args], cwd=workdir, timeout=timeout)


def _hash_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


class _Static(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.workflow
def test_download_rule_against_loopback(tmp_path):
    """data.download: true fetches, verifies and unpacks the archive, then the data rules run."""
    serve = tmp_path / "serve"
    src = tmp_path / "src"
    cfg = PhantomConfig(6, 20, 0.2, 0.0, 160, 120, 90, 3)
    write_phantom(
        cfg,
        src / "ISIC_2019_Training_Input",
        serve / "ISIC_2019_Training_GroundTruth.csv",
        serve / "ISIC_2019_Training_Metadata.csv",
        None,
    )
    with zipfile.ZipFile(serve / "ISIC_2019_Training_Input.zip", "w") as zf:
        for p in sorted((src / "ISIC_2019_Training_Input").iterdir()):
            zf.write(p, f"ISIC_2019_Training_Input/{p.name}")
    sha = hashlib.sha256((serve / "ISIC_2019_Training_GroundTruth.csv").read_bytes()).hexdigest()

    requests: list[str] = []

    class Counting(_Static):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    def handler(*a, **kw):
        return Counting(*a, directory=str(serve), **kw)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        wd = tmp_path / "wd"
        wd.mkdir()
        conf = wd / "c.yaml"
        conf.write_text(
            yaml.safe_dump(
                {
                    "data": {
                        "image_size": 32,
                        "download": True,
                        "download_url": f"http://127.0.0.1:{httpd.server_address[1]}/",
                        "download_sha256": {"ISIC_2019_Training_GroundTruth.csv": sha},
                        "phantom": None,
                    }
                }
            )
        )
        res = snakemake(wd, "results/repeat_0/data/metadata.csv", "--configfile", str(conf), "--cores", "2")
        assert res.returncode == 0, res.stderr[-4000:]
        # into the workflow's own folder, never the configured (missing) resources/isic2019/
        owned = wd / "resources/downloads/isic2019"
        images = sorted(p.name for p in (owned / "ISIC_2019_Training_Input").glob("*.jpg"))
        assert images == sorted(p.name for p in (src / "ISIC_2019_Training_Input").iterdir())
        assert not (wd / "resources/isic2019").exists()
        n_rows = len((wd / "results/repeat_0/data/metadata.csv").read_text().splitlines()) - 1
        assert n_rows == len(images)
        # a completed download is protected and never an output again: -F reruns the data rules
        # from it without fetching anything
        assert not os.access(owned / "ISIC_2019_Training_GroundTruth.csv", os.W_OK) or os.geteuid() == 0
        assert (owned / "ISIC_2019_Training_GroundTruth.csv").stat().st_mode & 0o222 == 0
        before = _hash_tree(owned)
        served = len(requests)
        res = snakemake(
            wd, "results/repeat_0/data/metadata.csv", "--configfile", str(conf), "--cores", "2", "-F"
        )
        assert res.returncode == 0, res.stderr[-4000:]
        assert _hash_tree(owned) == before and len(requests) == served
    finally:
        httpd.shutdown()
        httpd.server_close()
    shutil.rmtree(wd / "resources")
