"""The WGAN-GP's config: the ``gan`` section (Gulrajani et al. 2017; the study's settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganaug.generators.config import GeneratorConfig

NAME = "wgan_gp"  # its name in the registry and in every file it writes
HPARAM_KEYS = ("latent_dim", "features_g", "img_size")  # the generator's shape, stored in generator.pt
# the sizes it generates: the generator doubles a 4x4 map log2(size / 4) times
SUPPORTED_SIZES = (32, 64, 128, 256)


@dataclass(frozen=True)
class WganGpConfig(GeneratorConfig):
    img_size: int = 256  # 32, 64, 128 or 256 (data.image_size); the study: 256
    latent_dim: int = 100  # length of the noise vector z
    features_g: int = 16  # generator width: channels are features_g * 2^k
    features_d: int = 16  # critic width: channels are features_d * 2^k
    batch_size: int = 16  # images per critic and generator step
    lr_g: float = 1e-4  # Adam learning rate of the generator
    lr_d: float = 1e-4  # Adam learning rate of the critic
    betas: tuple[float, float] = (0.5, 0.999)  # the study's; the WGAN-GP paper used (0.0, 0.9)
    lambda_gp: float = 10.0  # weight of the gradient penalty
    n_critic: int = 5  # critic updates per generator update
    total_iterations: int = 50_000  # generator updates; training length is counted in these
    checkpoint_interval: int = 5_000  # iterations between checkpoints
    sample_interval: int = 1_000  # iterations between sample grids from fixed noise
    log_interval: int = 100  # iterations between TensorBoard scalars / history rows
    diffaugment: str = ""  # "" (off) or a policy such as "color,translation,cutout"
    bf16: bool = False  # bf16 autocast for the forward passes on CUDA (the penalty stays fp32)
    tf32: bool = True  # TF32 convolutions and matmuls on CUDA (the penalty's double backward too)
    compile: bool = False  # torch.compile the generator (the critic needs a double backward)
    # on CUDA, the critic step replayed from a CUDA graph: about 1,200 host dispatches a step
    # become one launch (ganaug.generators.cuda_graph); Adam keeps its step on the device
    cuda_graph: bool = False
    n_samples: int = 1500  # images sampling writes (sampling only: training ignores it)
    sample_batch_size: int = 64  # generator batch while sampling; it does not change the images
    seed: int = 42  # the global seed: initial weights and the training stream

    SECTION = "gan"
    LENGTH_KEY = "total_iterations"
    SAMPLED_WITH = HPARAM_KEYS  # sampling rebuilds the generator from these
    # the settings that change the weights: a checkpoint written with others is another
    # experiment (the intervals and torch.compile change what is logged or how fast, not the result)
    RESUME_KEYS = (
        "img_size",
        "latent_dim",
        "features_g",
        "features_d",
        "batch_size",
        "lr_g",
        "lr_d",
        "betas",
        "lambda_gp",
        "n_critic",
        "diffaugment",
        "seed",
    )
    # what sampling reads and training does not: changing them must not retrain
    SAMPLING_KEYS = ("n_samples", "sample_batch_size")
    # how training is watched and how fast it runs, not what it learns: read from the config, not
    # passed as rule params, so that changing them never reruns (and so retrains) the generator
    WATCH_KEYS = ("checkpoint_interval", "sample_interval", "log_interval", "compile")

    def __post_init__(self) -> None:
        if self.img_size not in SUPPORTED_SIZES:
            raise ValueError(
                f"data.image_size {self.img_size} is not a size the WGAN-GP can generate; allowed: "
                f"{', '.join(map(str, SUPPORTED_SIZES))}"
            )
        # a captured step may neither draw random numbers inside it nor compile
        clash = [k for k in ("diffaugment", "compile") if self.cuda_graph and getattr(self, k)]
        if clash:
            raise ValueError(
                f"gan.cuda_graph cannot be combined with gan.{' or gan.'.join(clash)} (a CUDA graph replays "
                "fixed kernels: no random draws or compiled code inside it); turn one of them off"
            )

    def resume_settings(self, device: Any) -> dict[str, Any]:
        """RESUME_KEYS' values, plus the device type and the precision actually used: bf16 and
        TF32 act only on CUDA, where TF32 also runs the penalty's convolutions (fp32 storage,
        TF32 products; gpu_check.sh compares 200 iterations against full fp32)."""
        out = super().resume_settings(device)
        if self.cuda_graph and device.type == "cuda":  # Adam's capturable arithmetic rounds otherwise
            out["cuda_graph"] = True
        return out
