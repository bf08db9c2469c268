"""Reading sets of image files as curation and the generator metrics see them, in one place: the
study's greyscale decoding (what the blur and SSIM filters are defined on) and RGB, each image
decoded once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ganaug.data.metadata import split_minority


def read_grey(path: str | Path) -> np.ndarray | None:
    """The study's greyscale image: ``cv2.imread(path, cv2.IMREAD_GRAYSCALE)``, exactly.

    For a PNG this is libpng's own RGB-to-grey conversion, which differs in the last bit from
    ``cv2.cvtColor(..., COLOR_BGR2GRAY)`` on some pixels; the blur and SSIM filters are defined
    on this one. None when the file cannot be decoded.
    """
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def read_images(folder: str | Path, names: list[str], grey: bool) -> np.ndarray:
    """uint8 (N, H, W) greyscale (the study's decoding) or (N, 3, H, W) RGB, decoded once."""
    out = []
    for name in names:
        path = Path(folder) / name
        img = read_grey(path) if grey else cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read image {path}")
        out.append(img if grey else img[..., ::-1].transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(out))


@dataclass
class Images:
    """One set of images, decoded once: names, RGB (N, 3, H, W) and the study's greyscale."""

    names: list[str]
    rgb: np.ndarray
    grey: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.names) == len(self.rgb) == len(self.grey)):
            raise ValueError(f"{len(self.names)} names for {len(self.rgb)} images")

    def subset(self, idx: np.ndarray) -> Images:
        return Images([self.names[i] for i in idx], self.rgb[idx], self.grey[idx])


def load_images(paths: list[Path], names: list[str]) -> Images:
    """Decode each image once: RGB for the networks, the study's greyscale for SSIM."""
    rgb = np.stack([read_images(p.parent, [p.name], grey=False)[0] for p in paths])
    grey = np.stack([read_grey(p) for p in paths])
    return Images(names, rgb, grey)


def real_minority(metadata: str | Path, split: str) -> Images:
    """The real minority images of ``split`` (train or val; never test), by image id."""
    rows = split_minority(metadata, split)
    return load_images([Path(p) for p in rows["path"]], rows["image_id"].tolist())


def synthetic(folder: str | Path) -> Images:
    names = sorted(f.name for f in Path(folder).glob("*.png"))
    if not names:
        raise RuntimeError(f"no PNG images in {folder}")
    return load_images([Path(folder) / n for n in names], names)
