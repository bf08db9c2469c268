"""StyleGAN2-ADA's config: the ``stylegan2_ada`` section. The defaults are the ADA paper's 256-px
setting ('paper256' in its code: half-width feature maps, 8 mapping layers, batch 64, learning
rate 0.0025, EMA over 20k images, minibatch-std groups of 8) except R1's gamma, which follows the
'auto' rule unless set (the study config sets the paper's 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganaug.dataclass_io import as_dict
from ganaug.generators.config import GeneratorConfig

NAME = "stylegan2_ada"  # its name in the registry and in every file it writes
# what generator.pt records of the network: enough to rebuild it for sampling
SHAPE_KEYS = ("img_size", "z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max", "mbstd_group")


def auto_gamma(resolution: int, batch: int) -> float:
    """The ADA code's 'auto' R1 weight: 0.0002 * resolution^2 / batch."""
    return 0.0002 * resolution**2 / batch


@dataclass(frozen=True)
class StyleGan2AdaConfig(GeneratorConfig):
    img_size: int = 256  # data.image_size: a power of two from 8 px
    z_dim: int = 512  # length of the latent vector z
    w_dim: int = 512  # length of the intermediate latent w
    mapping_layers: int = 8  # fully connected layers of the mapping network
    channel_base: int = 16384  # channels at resolution r: min(channel_base / r, channel_max)
    channel_max: int = 512
    mbstd_group: int = 8  # images per minibatch-std group (divides batch_size and its half)
    batch_size: int = 64  # images per minibatch
    lr: float = 0.0025  # Adam learning rate of both networks
    betas: tuple[float, float] = (0.0, 0.99)  # Adam's betas (the paper's)
    r1_gamma: float | None = None  # R1 weight; null: 0.0002 * img_size^2 / batch_size ('auto')
    d_reg_interval: int = 16  # minibatches between R1 steps (lazy regularisation)
    pl_weight: float = 2.0  # path-length regulariser weight; 0 turns it off
    g_reg_interval: int = 4  # minibatches between path-length steps
    style_mixing: float = 0.9  # probability of mixing two latents at a random layer in training
    ema_kimg: float = 20.0  # half-life of the generator's weight EMA, in thousands of images
    ema_rampup: float | None = None  # the EMA's half-life at most this x images seen; null: none
    ada: bool = True  # adaptive discriminator augmentation
    ada_target: float = 0.6  # the r_t = E[sign(D(real))] that p is steered towards
    ada_interval: int = 4  # minibatches between adjustments of p
    ada_kimg: float = 500.0  # p can move from 0 to 1 in this many thousand images
    total_iterations: int = 10_000  # minibatches; training length is counted in these
    checkpoint_interval: int = 1_000  # minibatches between checkpoints
    sample_interval: int = 1_000  # minibatches between sample grids (from the EMA generator)
    log_interval: int = 100  # minibatches between history rows
    bf16: bool = False  # bf16 autocast for the forward passes on CUDA (the regularisers in fp32)
    tf32: bool = True  # TF32 convolutions and matmuls on CUDA
    n_samples: int = 1500  # images sampling writes (sampling only)
    sample_batch_size: int = 32  # images per sampling batch; it does not change the images
    seed: int = 42  # the global seed: initial weights, fixed noise images and the training stream

    SECTION = "stylegan2_ada"
    LENGTH_KEY = "total_iterations"
    WATCH_KEYS = ("checkpoint_interval", "sample_interval", "log_interval")
    SAMPLING_KEYS = ("n_samples", "sample_batch_size")
    SAMPLED_WITH = SHAPE_KEYS  # sampling rebuilds the generator from these

    def __post_init__(self) -> None:
        if self.img_size < 8 or self.img_size & (self.img_size - 1):
            raise ValueError(f"stylegan2_ada: data.image_size {self.img_size} is not a power of two from 8")
        for n in (self.batch_size, self.batch_size // 2):
            if n % min(self.mbstd_group, n):
                raise ValueError(
                    f"stylegan2_ada.mbstd_group {self.mbstd_group} must divide the batch "
                    f"({self.batch_size}) and the path-length half batch ({self.batch_size // 2})"
                )
        if self.batch_size < 2:
            raise ValueError("stylegan2_ada.batch_size must be at least 2")

    @property
    def gamma(self) -> float:
        """R1's weight: the set one, or the 'auto' rule's."""
        return self.r1_gamma if self.r1_gamma is not None else auto_gamma(self.img_size, self.batch_size)

    def shape(self) -> dict[str, Any]:
        return {k: as_dict(self)[k] for k in SHAPE_KEYS}
