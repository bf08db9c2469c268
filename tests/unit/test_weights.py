"""The weights cache: what a config needs, fetching from a mirror, and the checks after a fetch."""

from __future__ import annotations

import hashlib
import io

import pytest


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

    import torch

    from ganaug.evaluation.features import build_extractor, fid_inception_architecture
    from ganaug.models.registry import FID_INCEPTION as FID_WEIGHTS
    from ganaug.pretrained import VERIFIERS
    from ganaug.weights import fetch

    url, h = server
    buf = io.BytesIO()
    torch.save(fid_inception_architecture().state_dict(), buf)
    h.files[FID_WEIGHTS.name] = buf.getvalue()
    fetch([FID_WEIGHTS], tmp_path / "good", mirror=url, verifiers=VERIFIERS)
    assert build_extractor("inception", tmp_path / "good").comparable
    h.files[FID_WEIGHTS.name] = buf.getvalue()[: len(buf.getvalue()) // 2]  # truncated
    with pytest.raises(ValueError, match=r"not the FID Inception weights.*file removed"):
        fetch([FID_WEIGHTS], tmp_path / "bad", mirror=url, verifiers=VERIFIERS)
    assert not (tmp_path / "bad" / "hub" / "checkpoints" / FID_WEIGHTS.name).exists()


def test_required_weight_files_follow_the_config():
    import yaml

    from ganaug.config import validate_config
    from ganaug.pretrained import required_files
    from tests.helpers import REPO

    full = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    names = sorted(f.name for f in required_files(full))
    assert names == sorted(
        [
            "resnet50-11ad3fa6.pth",
            "densenet121-a639ec97.pth",
            "efficientnet_b0_rwightman-7f5810bc.pth",
            "vgg16-397923af.pth",
            "pt_inception-2015-12-05-6726825d.pth",
            "timm-vit_small_patch14_dinov2.lvd142m.safetensors",
        ]
    )
    demo = validate_config(yaml.safe_load((REPO / "config" / "demo.yaml").read_text()))
    assert required_files(demo) == []


def test_a_timm_file_is_fetched_by_name_and_checked_by_loading_it(server, tmp_path):
    import io

    import timm
    from safetensors.torch import save

    from ganaug.models.registry import timm_weight_file
    from ganaug.pretrained import VERIFIERS
    from ganaug.weights import fetch

    url, h = server
    wf = timm_weight_file("resnet18")
    h.files[wf.name] = save(timm.create_model("resnet18", pretrained=False).state_dict())
    (path,) = fetch([wf], tmp_path, mirror=url, verifiers=VERIFIERS)
    assert path.name == "timm-resnet18.safetensors"
    h.files[wf.name] = b"not safetensors"
    with pytest.raises(ValueError, match=r"not the timm weights of resnet18.*file removed"):
        fetch([wf], tmp_path / "bad", mirror=url, verifiers=VERIFIERS)
    assert io  # the buffer module is what safetensors' save returns bytes through


def test_the_timm_address_comes_from_timms_pretrained_config():
    from ganaug.models.classifiers import timm_download_url

    assert timm_download_url("resnet18").startswith("https://huggingface.co/timm/resnet18.")


def test_the_demo_needs_nothing_from_the_cache_and_lite0_never_does():
    import yaml

    from ganaug.config import validate_config
    from ganaug.pretrained import required_files
    from tests.helpers import REPO

    demo = validate_config(yaml.safe_load((REPO / "config" / "demo.yaml").read_text()))
    assert required_files(demo) == []
    cfg = validate_config({"classifier": {"archs": ["timm/tf_efficientnet_lite0", "timm/convnext_tiny"]}})
    assert [f.name for f in required_files(cfg) if f.purpose.startswith("classifier")] == [
        "timm-convnext_tiny.safetensors"
    ]
