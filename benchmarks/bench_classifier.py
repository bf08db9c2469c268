"""Classifier input pipeline: the uint8 cache (decode once, index tensors) against PIL decoding
every image every epoch (the usual Dataset + ToTensor loop), both feeding the same ResNet-50
training step on CPU, in one run. Reported: training images per second, cache decode included.
Random-init networks (the speed does not depend on the weights).

    python benchmarks/bench_classifier.py                  # 64 px and 256 px, ~2 minutes

GPU (one command; every architecture at 256 px, batch 32, uint8 cache, fp32 in the default
memory layout against bf16 autocast + channels_last, as the training code runs on CUDA):
    python benchmarks/bench_classifier.py --device cuda --sizes 256 --images 512 --epochs 3 --gpu \
        --archs resnet50,densenet121,efficientnet_b0,timm/tf_efficientnet_lite0
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from ganaug.data.datasets import decode_cache
from ganaug.models.classifiers import create_classifier, imagenet_normalise


def step(model, opt, x01: torch.Tensor, y: torch.Tensor, device: torch.device, bf16: bool) -> None:
    x = imagenet_normalise(x01.to(device))
    if bf16:  # the fast CUDA path: channels_last with bf16 autocast
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y.to(device))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def run(
    paths, y, size, epochs, batch, device, mode: str, bf16: bool = False, arch: str = "resnet50"
) -> float:
    torch.manual_seed(0)
    model = create_classifier(arch, "random").to(device)
    if bf16:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4)
    yt = torch.from_numpy(y)
    g = torch.Generator().manual_seed(0)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    cache = decode_cache(paths, size) if mode == "cache" else None
    for _ in range(epochs):
        order = torch.randperm(len(paths), generator=g)
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            if cache is not None:
                x01 = cache[idx].float() / 255.0
            else:  # PIL decode + conversion per image, every epoch
                x01 = (
                    torch.stack(
                        [
                            torch.from_numpy(np.asarray(Image.open(paths[i]).convert("RGB"))).permute(2, 0, 1)
                            for i in idx
                        ]
                    ).float()
                    / 255.0
                )
            step(model, opt, x01, yt[idx], device, bf16)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(paths) * epochs / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", default="64,256")
    ap.add_argument("--images", type=int, default=0, help="0: 192 at 64 px, 48 at 256 px")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--gpu", action="store_true", help="also time bf16 + channels_last (CUDA only)")
    ap.add_argument("--archs", default="resnet50", help="comma list (the PIL comparison uses the first)")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/classifier.json"))
    args = ap.parse_args()
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    report = {"device": str(device), "threads": torch.get_num_threads(), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for size in map(int, args.sizes.split(",")):
            n = args.images or (192 if size <= 64 else 48)
            paths = []
            for i in range(n):
                p = Path(tmp) / f"{size}_{i}.png"
                cv2.imwrite(str(p), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
                paths.append(str(p))
            y = (rng.random(n) < 0.2).astype(np.int64)
            for k, arch in enumerate(args.archs.split(",")):
                # PIL decoding per epoch only against the first architecture: it is the input
                # pipeline that is compared, not the network
                modes = [("cache", False)] + ([("pil", False)] if k == 0 else [])
                modes += [("cache", True)] if args.gpu and device.type == "cuda" else []
                row = {"arch": arch, "size": size, "images": n, "epochs": args.epochs, "batch": args.batch}
                for mode, bf16 in modes:
                    row[f"{mode}{'_bf16_channels_last' if bf16 else ''}_images_per_second"] = round(
                        run(paths, y, size, args.epochs, args.batch, device, mode, bf16, arch), 2
                    )
                if "pil_images_per_second" in row:
                    row["cache_vs_pil"] = round(
                        row["cache_images_per_second"] / row["pil_images_per_second"], 3
                    )
                if "cache_bf16_channels_last_images_per_second" in row:
                    row["bf16_vs_fp32"] = round(
                        row["cache_bf16_channels_last_images_per_second"] / row["cache_images_per_second"], 3
                    )
                report["runs"].append(row)
                print(json.dumps(row), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
