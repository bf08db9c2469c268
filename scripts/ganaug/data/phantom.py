"""The embedded phantom data set: dermoscopy-like DF and NV images in the ISIC 2019 layout.

It exists so the whole workflow runs on a laptop with no download, through the same readers and
preprocessing as the real archive. It is not a model of dermoscopy; it is built so that the two
classes differ in structure (a central white scar patch and a faint peripheral ring for
dermatofibroma, a reticular pigment network for nevi) while their colour statistics overlap:
a logistic regression on per-image mean RGB stays below 0.9 balanced accuracy (tested).

Every image draws from its own generator seeded by ``(seed, image index)``, so the set is
byte-identical between runs and independent of the number of worker processes.
"""

from __future__ import annotations

import io
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from ganaug.data.readers.isic2019 import ISIC2019_CLASSES
from ganaug.dataclass_io import from_dict
from ganaug.io import write_bytes, write_csv
from ganaug.settings import PhantomConfig, PhantomShift

log = logging.getLogger(__name__)

SITES = ["anterior torso", "posterior torso", "lower extremity", "upper extremity", "head/neck"]


@dataclass(frozen=True)
class Lesion:
    """What stays the same when one lesion is photographed twice."""

    label: str  # "dermatofibroma" or "nevus"
    lesion_seed: int  # shape, colour and texture of the lesion itself
    lesion_id: str  # shared by all images of this lesion ("" for a few: metadata gaps happen)
    age: int
    site: str
    sex: str


@dataclass(frozen=True)
class Shot:
    """One photograph: a lesion plus its own pose, lighting, skin and hairs."""

    image_id: str
    lesion: Lesion
    shot_seed: int
    with_mask: bool


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid upsampled with bicubic interpolation."""
    coarse = rng.uniform(-1.0, 1.0, size=(cells, max(2, int(cells * w / h)))).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).clip(-1, 1)


def _lesion_mask(
    lrng: np.random.Generator, srng: np.random.Generator, h: int, w: int, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, float]:
    """Soft lesion mask, normalised radius map (0 centre, 1 border) and the radius in px.

    The border is an ellipse whose radius wobbles with a few Fourier harmonics (the lesion's
    own, from ``lrng``); pose (centre, rotation, scale) comes from the shot (``srng``).
    """
    base = min(h, w) * lrng.uniform(0.16, 0.30) * srng.uniform(0.9, 1.1) * scale
    aspect = lrng.uniform(0.75, 1.0)
    harmonics = [(k, lrng.uniform(0.0, 0.10 / k), lrng.uniform(0, 2 * np.pi)) for k in range(2, 7)]
    theta0 = srng.uniform(0, 2 * np.pi)
    cy = h / 2 + srng.uniform(-0.12, 0.12) * h
    cx = w / 2 + srng.uniform(-0.12, 0.12) * w
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    ang = np.arctan2(dy, dx) - theta0
    rot_x = dx * np.cos(theta0) + dy * np.sin(theta0)
    rot_y = -dx * np.sin(theta0) + dy * np.cos(theta0)
    dist = np.sqrt(rot_x**2 + (rot_y / aspect) ** 2)
    wobble = 1.0 + sum(a * np.cos(k * ang + p) for k, a, p in harmonics)
    rnorm = dist / (base * wobble)
    soft = np.clip((1.08 - rnorm) / 0.16, 0.0, 1.0)  # a soft edge about 15 % of the radius wide
    return soft.astype(np.float32), rnorm.astype(np.float32), float(base)


def _skin(srng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Skin background: a tone from a wide range, low-frequency shading and fine grain."""
    light = np.array([232.0, 196.0, 176.0])
    dark = np.array([150.0, 104.0, 80.0])
    tone = light + (dark - light) * srng.beta(1.6, 2.2) + srng.normal(0, 6, 3)
    shade = 1.0 + 0.06 * _smooth_noise(srng, h, w, 4)
    img = tone[None, None, :] * shade[..., None]
    return img + srng.normal(0, 3.0, size=(h, w, 1))


def _network(lrng: np.random.Generator, h: int, w: int, radius: float) -> np.ndarray:
    """A reticular pigment network in [0, 1]: thin lines along a randomly warped grid."""
    period = radius * lrng.uniform(0.16, 0.26)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    warp = 0.35 * period
    wy = _smooth_noise(lrng, h, w, 6) * warp
    wx = _smooth_noise(lrng, h, w, 6) * warp
    a, b = lrng.uniform(0, np.pi, 2)
    u = (xx + wx) * np.cos(a) + (yy + wy) * np.sin(a)
    v = -(xx + wx) * np.sin(b) + (yy + wy) * np.cos(b)
    lines = np.maximum(np.cos(2 * np.pi * u / period), np.cos(2 * np.pi * v / period))
    return np.clip((lines - 0.55) / 0.45, 0.0, 1.0)


def _draw_hairs(srng: np.random.Generator, img: np.ndarray) -> None:
    """Dark curved hairs, anti-aliased, drawn in place on a uint8 RGB image."""
    h, w = img.shape[:2]
    for _ in range(int(srng.integers(0, 5))):
        p0, p1, p2 = (srng.uniform([0, 0], [w, h]) for _ in range(3))
        t = np.linspace(0, 1, 40)[:, None]
        pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2  # quadratic Bezier
        colour = tuple(int(c) for c in srng.uniform(20, 70) * np.array([1.0, 0.85, 0.75]))
        cv2.polylines(img, [pts.astype(np.int32)], False, colour, int(srng.integers(1, 3)), cv2.LINE_AA)


def render(shot: Shot, width: int, height: int, lesion_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Draw one phantom image: (uint8 RGB image, uint8 0/255 lesion mask)."""
    h, w = height, width
    lrng = np.random.default_rng(shot.lesion.lesion_seed)
    srng = np.random.default_rng(shot.shot_seed)
    skin = _skin(srng, h, w)
    soft, rnorm, radius = _lesion_mask(lrng, srng, h, w, lesion_scale)
    texture = _smooth_noise(lrng, h, w, 8)

    if shot.lesion.label == "dermatofibroma":
        # pink-brown papule; its colour range overlaps the lighter nevi on purpose
        body = np.array([178.0, 118.0, 102.0]) * lrng.uniform(0.78, 1.08) + lrng.normal(0, 8, 3)
        lesion = body[None, None, :] * (1.0 + 0.07 * texture[..., None])
        # central white scar-like patch: an irregular blob with a few radiating streaks
        scar_r = lrng.uniform(0.25, 0.45)
        streaks = 0.5 + 0.5 * np.cos(
            lrng.integers(3, 7) * np.arctan2(*np.gradient(rnorm)) + lrng.uniform(0, 6)
        )
        scar = np.clip((scar_r * (1 + 0.35 * texture + 0.25 * streaks) - rnorm) / 0.12, 0, 1)
        white = np.array([236.0, 222.0, 214.0])
        strength = lrng.uniform(0.35, 0.85)  # some scars are faint
        lesion = lesion * (1 - strength * scar[..., None]) + white * strength * scar[..., None]
        # faint peripheral pigment ring with a delicate network
        ring = np.exp(-(((rnorm - 0.82) / 0.12) ** 2)) * (0.5 + 0.5 * _network(lrng, h, w, radius))
        lesion = lesion * (1 - 0.28 * ring[..., None])
    else:
        # round brown lesion with a reticular network that fades towards the border
        body = np.array([150.0, 102.0, 76.0]) * lrng.uniform(0.72, 1.15) + lrng.normal(0, 8, 3)
        lesion = body[None, None, :] * (1.0 + 0.08 * texture[..., None])
        net = _network(lrng, h, w, radius) * np.clip(1.1 - rnorm, 0, 1)
        lesion = lesion * (1 - 0.38 * net[..., None])
        if lrng.random() < 0.3:
            # central hypopigmentation, common in real nevi: a DF look-alike for a colour model
            pale = np.clip((lrng.uniform(0.2, 0.4) * (1 + 0.3 * texture) - rnorm) / 0.2, 0, 1)
            amount = lrng.uniform(0.2, 0.45) * pale[..., None]
            lesion = lesion * (1 - amount) + np.array([222.0, 196.0, 178.0]) * amount

    img = skin * (1 - soft[..., None]) + lesion * soft[..., None]
    # dermoscope vignette: a dark rim whose radius and strength vary with the device
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rr = np.sqrt(((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2)) ** 2)
    rim = np.clip((rr - srng.uniform(0.85, 1.15)) / 0.25, 0, 1)
    img *= (1 - srng.uniform(0.4, 0.9) * rim)[..., None]
    img *= srng.uniform(0.9, 1.08)  # exposure
    out = np.clip(img, 0, 255).astype(np.uint8)
    _draw_hairs(srng, out)
    mask = (soft > 0.5).astype(np.uint8) * 255
    return out, mask


def apply_shift(img: np.ndarray, shift: PhantomShift, rng: np.random.Generator) -> np.ndarray:
    """Another camera, on a rendered uint8 RGB image: colour cast, a light gradient from a random
    side, optics blur and a lower capture resolution (the lesion size is the renderer's)."""
    h, w = img.shape[:2]
    out = img.astype(np.float32) * np.asarray(shift.colour_cast, dtype=np.float32)[None, None, :]
    if shift.illumination > 0:
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ramp = ((xx / w - 0.5) * np.cos(angle) + (yy / h - 0.5) * np.sin(angle)) * 2  # -1..1
        out *= (1.0 + shift.illumination * 0.5 * ramp)[..., None]
    if shift.blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=shift.blur * w / 400)
    if shift.resolution < 1:
        small = (max(8, round(w * shift.resolution)), max(8, round(h * shift.resolution)))
        out = cv2.resize(
            cv2.resize(out, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR
        )
    return np.clip(out, 0, 255).round().astype(np.uint8)


def _minority_repeats(cfg: PhantomConfig, lesions: list[Lesion], rng: np.random.Generator) -> np.ndarray:
    """Extra images per lesion so that the DF lesions hold ``n_minority_images`` in all, one to
    several each (as in ISIC 2019: 239 DF images of 113 lesions); only lesions with an id repeat."""
    extra = np.zeros(len(lesions), dtype=int)
    if cfg.n_minority_images is None:
        return extra
    candidates = [k for k, les in enumerate(lesions) if les.label == "dermatofibroma" and les.lesion_id]
    n_extra = cfg.n_minority_images - cfg.n_minority_lesions
    if n_extra < 0 or (n_extra and not candidates):
        raise ValueError(
            f"data.phantom.n_minority_images {cfg.n_minority_images} is fewer than the "
            f"{cfg.n_minority_lesions} DF lesions"
        )
    # a skewed spread: most lesions once, a few photographed many times
    weights = rng.exponential(1.0, len(candidates)) ** 2
    extra[candidates] = rng.multinomial(n_extra, weights / weights.sum())
    return extra


def plan(cfg: PhantomConfig) -> list[Shot]:
    """Decide every image before drawing any: labels, lesion ids, repeats and masks."""
    rng = np.random.default_rng(cfg.seed)
    lesions: list[Lesion] = []
    labels = ["dermatofibroma"] * cfg.n_minority_lesions + ["nevus"] * cfg.n_majority_lesions
    # the default set keeps its historical lesion ids; another prefix names its own lesions
    lesion_prefix = "PHL_" if cfg.id_prefix == "PHANTOM" else f"{cfg.id_prefix}_L"
    for i, label in enumerate(labels):
        lesion_id = "" if rng.random() < 0.03 else f"{lesion_prefix}{i:07d}"
        lesions.append(
            Lesion(
                label=label,
                lesion_seed=int(rng.integers(2**62)),
                lesion_id=lesion_id,
                age=int(rng.integers(3, 17) * 5),
                site=str(rng.choice(SITES)),
                sex=str(rng.choice(["male", "female"])),
            )
        )
    shots: list[Shot] = []
    extra = _minority_repeats(cfg, lesions, rng)
    for k, lesion in enumerate(lesions):
        # a repeat only makes sense when the lesion id links the two photographs
        repeats = 2 if lesion.lesion_id and rng.random() < cfg.repeat_fraction else 1
        if cfg.n_minority_images is not None and lesion.label == "dermatofibroma":
            repeats = 1 + extra[k]
        for _ in range(repeats):
            shots.append(Shot("", lesion, int(rng.integers(2**62)), bool(rng.random() < cfg.mask_fraction)))
    order = rng.permutation(len(shots))
    return [
        Shot(f"{cfg.id_prefix}_{k:07d}", shots[j].lesion, shots[j].shot_seed, shots[j].with_mask)
        for k, j in enumerate(order)
    ]


def plan_extra(cfg: PhantomConfig) -> list[Shot]:
    """``n_extra_minority`` more DF images, each of a new lesion that is in no split and in no
    label file: the pool of the real_extra control. From their own random stream, so the main
    set does not change."""
    rng = np.random.default_rng([cfg.seed, 2])
    shots = []
    for k in range(cfg.n_extra_minority):
        seed, age = int(rng.integers(2**62)), int(rng.integers(3, 17) * 5)
        site, sex = str(rng.choice(SITES)), str(rng.choice(["male", "female"]))
        lesion = Lesion("dermatofibroma", seed, f"{cfg.id_prefix}X_L{k:07d}", age, site, sex)
        shots.append(Shot(f"{cfg.id_prefix}X_{k:07d}", lesion, int(rng.integers(2**62)), False))
    return shots


def _encode_one(args: tuple[Shot, int, int, int, float, PhantomShift | None]) -> tuple[bytes, bytes | None]:
    shot, width, height, quality, scale, shift = args
    lesion_scale = shift.lesion_scale if shift is not None else 1.0
    if scale < 1.0:  # draw small, then enlarge: the decode and crop cost of a large file, cheaply
        small_w, small_h = max(64, round(width * scale)), max(64, round(height * scale))
        img, mask = render(shot, small_w, small_h, lesion_scale)
        img = cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    else:
        img, mask = render(shot, width, height, lesion_scale)
    if shift is not None:
        img = apply_shift(img, shift, np.random.default_rng([shot.shot_seed, 1]))
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    mask_png = None
    if shot.with_mask:
        mbuf = io.BytesIO()
        Image.fromarray(mask).save(mbuf, format="PNG")
        mask_png = mbuf.getvalue()
    return buf.getvalue(), mask_png


def _write_images(cfg: PhantomConfig, shots: list[Shot], images_dir: Path, masks_dir, workers: int) -> None:
    from tqdm import tqdm

    images_dir.mkdir(parents=True, exist_ok=True)
    if masks_dir is not None:
        Path(masks_dir).mkdir(parents=True, exist_ok=True)
    sizes = cfg.sizes or ((cfg.width, cfg.height),)
    jobs = [
        (s, *sizes[k % len(sizes)], cfg.jpeg_quality, cfg.render_scale, cfg.shift)
        for k, s in enumerate(shots)
    ]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        # written as they come: a large set never sits in memory
        encoded = tqdm(
            pool.map(_encode_one, jobs, chunksize=8), total=len(jobs), desc="phantom", mininterval=5
        )
        for shot, (jpeg, mask_png) in zip(shots, encoded, strict=True):
            write_bytes(jpeg, images_dir / f"{shot.image_id}.jpg")
            if mask_png is not None and masks_dir is not None:
                write_bytes(mask_png, Path(masks_dir) / f"{shot.image_id}_segmentation.png")


def write_phantom(
    cfg: PhantomConfig,
    images_dir: str | Path,
    ground_truth: str | Path,
    metadata: str | Path,
    masks_dir: str | Path | None,
    workers: int = 1,
    extra_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Write the phantom set in the ISIC 2019 layout (and its extra DF images, in no label file,
    to ``extra_dir``); return the ground-truth table."""
    shots = plan(cfg)
    _write_images(cfg, shots, Path(images_dir), masks_dir, workers)
    if cfg.n_extra_minority and extra_dir is not None:
        _write_images(cfg, plan_extra(cfg), Path(extra_dir), None, workers)

    gt = pd.DataFrame({"image": [s.image_id for s in shots]})
    for cls in ISIC2019_CLASSES:
        code = {"dermatofibroma": "DF", "nevus": "NV"}
        gt[cls] = [1.0 if code[s.lesion.label] == cls else 0.0 for s in shots]
    meta = pd.DataFrame(
        {
            "image": [s.image_id for s in shots],
            "age_approx": [s.lesion.age for s in shots],
            "anatom_site_general": [s.lesion.site for s in shots],
            "lesion_id": [s.lesion.lesion_id for s in shots],
            "sex": [s.lesion.sex for s in shots],
        }
    )
    write_csv(gt, ground_truth)
    write_csv(meta, metadata)
    n_df = sum(s.lesion.label == "dermatofibroma" for s in shots)
    log.info(
        "phantom set: %d images (%d dermatofibroma, %d nevus) of %d lesions, %d with masks",
        len(shots),
        n_df,
        len(shots) - n_df,
        cfg.n_minority_lesions + cfg.n_majority_lesions,
        sum(s.with_mask for s in shots),
    )
    return gt


def phantom_rule(
    spec: dict, where: str, images, ground_truth, metadata, masks, extra_dir=None, threads: int = 1
) -> None:
    """The rules make_phantom and make_external_phantom: the phantom set of ``spec`` (the config's
    ``where``, e.g. data.phantom) in the ISIC 2019 layout."""
    cfg = from_dict(PhantomConfig, spec, where)
    write_phantom(cfg, images, ground_truth, metadata, masks, workers=threads, extra_dir=extra_dir)
