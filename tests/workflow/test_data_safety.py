"""A researcher's data are never touched: not by a run, not by -F, not by --forcerun of any
data rule, whatever the config inherits from config/config.yaml.

Both bugs this guards against were real: a HAM10000 config merged over config.yaml inherited
ISIC 2019's metadata path and download: true, and the download rule, whose outputs were the
user's own images folder and ground truth, had them deleted by Snakemake before it ran; with an
ISIC 2019 set in place, -F did the same.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ganaug.data.phantom import write_phantom
from ganaug.settings import PhantomConfig
from tests.helpers import REPO, run, tool

SNAKEFILE = str(REPO / "workflow" / "Snakefile")

SMALL = PhantomConfig(6, 20, 0.2, 0.0, 160, 120, 90, 3)

DATA_RULES = ["download_isic2019", "ingest", "preprocess", "split"]

pytestmark = pytest.mark.workflow


def snakemake(workdir: Path, *args: str):
    """Snakemake as a user runs it from a clone: the Snakefile's configfile directive finds
    config/config.yaml (relative to the working directory), and --configfile merges over it."""
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "config" / "config.yaml", workdir / "config" / "config.yaml")
    return run([tool("snakemake"), "-s", SNAKEFILE, "-d", str(workdir), "--cores", "2", *args], cwd=workdir)


def hashes(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    assert out, "nothing to hash"
    return out


def ok(res) -> None:
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]


def force_everything(wd: Path, conf: Path, protected: list[Path]) -> None:
    """Run the data rules, then every way of forcing them; the user's bytes never change."""
    before = hashes(*protected)
    target = ["results/repeat_0/data/metadata.csv", "--configfile", str(conf)]
    ok(snakemake(wd, *target))
    assert hashes(*protected) == before
    ok(snakemake(wd, *target, "-F"))
    assert hashes(*protected) == before
    ok(snakemake(wd, *target, "--forcerun", *DATA_RULES))
    assert hashes(*protected) == before
    # the download rule targeted by name (as the README's login-node step does)
    ok(snakemake(wd, "download_isic2019", "--configfile", str(conf), "-F"))
    assert hashes(*protected) == before
    assert "nothing to download" in (wd / "results/logs/download_isic2019.log").read_text()
    assert not (wd / "resources/downloads").exists()


def test_an_isic2019_set_in_place_survives_forced_reruns_with_download_on(tmp_path):
    wd = tmp_path / "wd"
    root = wd / "resources" / "isic2019"  # the standard place, where the README says to put them
    write_phantom(
        SMALL,
        root / "ISIC_2019_Training_Input",
        root / "ISIC_2019_Training_GroundTruth.csv",
        root / "ISIC_2019_Training_Metadata.csv",
        None,
    )
    conf = wd / "mine.yaml"
    conf.write_text(yaml.safe_dump({"data": {"image_size": 32, "download": True}}))
    force_everything(wd, conf, [root])
    n = len(pd.read_csv(wd / "results/repeat_0/data/metadata.csv"))
    assert n == len(list((root / "ISIC_2019_Training_Input").iterdir()))


def test_a_ham10000_config_as_documented_runs_and_leaves_the_data_alone(tmp_path):
    """format, images and ground_truth only, merged over config/config.yaml."""
    wd = tmp_path / "wd"
    data = tmp_path / "my data"  # outside the workdir, with a space in the path
    write_phantom(SMALL, data / "images", tmp_path / "gt19.csv", tmp_path / "meta19.csv", None)
    gt19, meta19 = pd.read_csv(tmp_path / "gt19.csv"), pd.read_csv(tmp_path / "meta19.csv")
    ham = pd.DataFrame(
        {
            "lesion_id": meta19["lesion_id"].fillna("").astype(str),
            "image_id": gt19["image"],
            "dx": ["df" if v == 1 else "nv" for v in gt19["DF"]],
            "dx_type": "histo",
            "age": 50.0,
            "sex": "female",
            "localization": "back",
        }
    )
    ham.to_csv(data / "HAM10000_metadata.csv", index=False)
    wd.mkdir()
    conf = wd / "ham.yaml"
    conf.write_text(
        yaml.safe_dump(
            {
                "data": {
                    "format": "ham10000",
                    "images": str(data / "images"),
                    "ground_truth": str(data / "HAM10000_metadata.csv"),
                    "image_size": 32,
                }
            }
        )
    )
    force_everything(wd, conf, [data])
    meta = pd.read_csv(wd / "results/repeat_0/data/metadata.csv")
    assert len(meta) == len(ham) and (meta.target == 1).sum() == (ham.dx == "df").sum() > 0
    assert set(meta.source) == {"ham10000"}


@pytest.mark.parametrize("origin", ["user", "download", "phantom"])
def test_no_rule_output_lies_outside_the_folders_the_workflow_owns(tmp_path, origin):
    """Every output of the whole DAG (snakemake --summary) is under results/ or a folder the
    workflow owns (resources/phantom/, resources/downloads/): never a path the user supplied."""
    data = tmp_path / "mine"
    conf = {"data": {"images": str(data / "imgs"), "ground_truth": str(data / "gt.csv"),
                     "metadata": str(data / "meta.csv")}}  # fmt: skip
    if origin == "user":
        (data / "imgs").mkdir(parents=True)
        (data / "gt.csv").write_text("x\n")
        (data / "meta.csv").write_text("x\n")
    elif origin == "phantom":
        conf = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(conf))
    res = snakemake(tmp_path, "--summary", "--configfile", str(path))
    ok(res)
    assert "config/config.yaml is extended" in res.stderr  # the user's merge, as from a clone
    outputs = [line.split("\t")[0] for line in res.stdout.splitlines()[1:] if "\t" in line]
    assert len(outputs) > 50
    owned = ("results/", "resources/phantom/", "resources/phantom_external/", "resources/downloads/isic2019/",
             "resources/weights/")  # fmt: skip
    assert [o for o in outputs if not o.startswith(owned)] == []
    # a weight file is an output only while it is missing: one in the cache is never deleted
    assert all(not (tmp_path / o).exists() for o in outputs if o.startswith("resources/weights/"))
    if origin == "download":
        assert "resources/downloads/isic2019/ISIC_2019_Training_Input" in outputs
