"""The classifier registry: every architecture trains, and ImageNet weights load from the cache
(or from the package that ships them)."""

from __future__ import annotations

import pytest
import torch

from ganaug.models.classifiers import create_classifier
from ganaug.models.registry import TORCHVISION_ARCHS as REGISTRY
from ganaug.weights import MissingWeights

HEADS = {
    "resnet50": ("fc", 2048),
    "densenet121": ("classifier", 1024),
    "efficientnet_b0": ("classifier.1", 1280),
}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_architecture_trains_at_64px(name):
    torch.manual_seed(0)
    model = create_classifier(name, "random")
    head = model.get_submodule(HEADS[name][0])
    assert isinstance(head, torch.nn.Linear) and (head.in_features, head.out_features) == (HEADS[name][1], 2)
    x = torch.randn(2, 3, 64, 64)
    out = model(x)
    assert out.shape == (2, 2)
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1])).backward()
    assert head.weight.grad is not None and torch.isfinite(head.weight.grad).all()


def test_imagenet_weights_come_from_the_cache(tmp_path):
    with pytest.raises(MissingWeights, match=r"densenet121-a639ec97\.pth"):
        create_classifier("densenet121", "imagenet", cache_dir=tmp_path)


def test_weights_from_a_file(tmp_path):
    torch.manual_seed(3)
    src = create_classifier("resnet50", "random")
    torch.save(src.state_dict(), tmp_path / "w.pt")
    dst = create_classifier("resnet50", str(tmp_path / "w.pt"))
    assert torch.equal(dst.fc.weight, src.fc.weight)
    with pytest.raises(ValueError, match="unknown architecture"):
        create_classifier("vgg11", "random")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_imagenet_weights_load_from_a_standin_in_the_cache(name, tmp_path):
    """A stand-in file where torch.hub looks, loaded through torchvision's weights API."""
    import torchvision.models

    from ganaug.models.registry import TORCHVISION_ARCHS
    from ganaug.weights import cached_file

    spec = TORCHVISION_ARCHS[name]
    torch.manual_seed(5)
    standin = getattr(torchvision.models, name)(weights=None).state_dict()
    if name == "densenet121":  # the published file: 'norm.1'-style keys, no num_batches_tracked
        standin = {
            (k.replace("norm1.", "norm.1.").replace("conv1.", "conv.1.") if "denselayer" in k else k): v
            for k, v in standin.items()
            if not ("denselayer" in k and k.endswith("num_batches_tracked"))
        }
    path = cached_file(spec.imagenet, tmp_path)
    path.parent.mkdir(parents=True)
    torch.save(standin, path)
    model = create_classifier(name, "imagenet", cache_dir=tmp_path)
    loaded = model.state_dict()
    stem = {
        "resnet50": "conv1.weight",
        "densenet121": "features.conv0.weight",
        "efficientnet_b0": "features.0.0.weight",
    }
    assert torch.equal(loaded[stem[name]], standin[stem[name]])
    if name == "densenet121":
        key = "features.denseblock1.denselayer1.norm1.weight"
        assert torch.equal(loaded[key], standin["features.denseblock1.denselayer1.norm.1.weight"])
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 2)


def test_timm_architectures_load_from_the_cache_through_timm(tmp_path):
    """Any timm name works as an arch; its ImageNet file is read from the weights cache by timm's
    own create_model (a stand-in file here), and its head becomes 2 classes."""
    import timm
    from safetensors.torch import save_file

    from ganaug.models.registry import arch_spec
    from ganaug.weights import cached_file

    spec = arch_spec("timm/resnet18")
    with pytest.raises(MissingWeights, match=r"timm-resnet18\.safetensors"):
        create_classifier("timm/resnet18", "imagenet", cache_dir=tmp_path)
    torch.manual_seed(3)
    standin = timm.create_model("resnet18", pretrained=False).state_dict()
    path = cached_file(spec.imagenet, tmp_path)
    path.parent.mkdir(parents=True)
    save_file(standin, str(path))
    model = create_classifier("timm/resnet18", "imagenet", cache_dir=tmp_path)
    assert torch.equal(model.state_dict()["conv1.weight"], standin["conv1.weight"])
    assert model.get_classifier().out_features == 2
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 2)


def test_unknown_architectures_name_the_choices():
    from ganaug.models.registry import arch_spec

    with pytest.raises(ValueError, match=r"unknown architecture 'vgg11': use one of resnet50, .* or timm/"):
        arch_spec("vgg11")


def test_efficientnet_lite0_imagenet_from_the_installed_package():
    """The packaged weights map in order onto timm's tf_efficientnet_lite0 and are ImageNet's:
    skimage's chelsea is an Egyptian cat (285), with ImageNet normalisation at 224 px."""
    from skimage import data

    from ganaug.models.classifiers import imagenet_normalise
    from ganaug.models.registry import arch_spec

    assert arch_spec("timm/tf_efficientnet_lite0").label == "EfficientNet-Lite0 ImageNet"
    model = create_classifier("timm/tf_efficientnet_lite0", "imagenet", 1000, cache_dir="/nonexistent").eval()
    img = torch.from_numpy(data.chelsea()).permute(2, 0, 1)[None].float() / 255
    img = torch.nn.functional.interpolate(img, size=(224, 224), mode="bilinear", align_corners=False)
    with torch.no_grad():
        p = torch.softmax(model(imagenet_normalise(img)), 1)[0]
    assert int(p.argmax()) == 285 and float(p.max()) > 0.5
    two = create_classifier("timm/tf_efficientnet_lite0", "imagenet", 2)
    assert two.get_classifier().out_features == 2
    assert torch.equal(two.state_dict()["conv_stem.weight"], model.state_dict()["conv_stem.weight"])


def test_map_in_order_refuses_a_shape_that_does_not_fit():
    from ganaug.models.classifiers import map_in_order

    with pytest.raises(ValueError, match=r"a \(3,\) does not fit x \(4,\)"):
        map_in_order({"a": torch.zeros(3)}, {"x": torch.zeros(4)}, "f.pth")
