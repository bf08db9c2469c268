"""The GPUs, the published throughputs the cost model is anchored to, and its other assumptions.

Every number the projection rests on is a named constant here, with where it comes from. Where a
number is uncertain it is a :class:`Span` (optimistic, expected, pessimistic), and the projection
is given at all three: the low, expected and high hours.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gpu:
    name: str
    fp32_tflops: float  # dense peaks (nothing here is sparse)
    tf32_tflops: float
    bf16_tflops: float
    hbm_tb_s: float  # memory bandwidth

    def peak(self, precision: str) -> float:
        """FLOP/s at ``precision`` (fp32, tf32, bf16)."""
        return getattr(self, f"{precision}_tflops") * 1e12


# NVIDIA H100 SXM5 datasheet: 67 TFLOP/s fp32, 494.7 TF32 and 989.4 bf16 dense; HBM3 3.35 TB/s.
# The lent H100 here is the SXM part (nvidia-smi: H100 80GB HBM3).
H100 = Gpu("H100 SXM", 67.0, 494.7, 989.4, 3.35)
# NVIDIA A100 80GB SXM datasheet: 19.5 fp32, 156 TF32, 312 bf16/fp16 dense; 2.04 TB/s
A100 = Gpu("A100 80GB SXM", 19.5, 156.0, 312.0, 2.04)


@dataclass(frozen=True)
class Span:
    """An uncertain assumption at its optimistic, expected and pessimistic value (optimistic:
    what makes the study cheaper)."""

    optimistic: float
    expected: float
    pessimistic: float

    def at(self, case: str) -> float:
        return getattr(self, case)


CASES = ("optimistic", "expected", "pessimistic")


@dataclass(frozen=True)
class Anchor:
    """A published single-GPU training throughput."""

    images_per_s: dict[str, float]  # by precision: "tf32", "bf16" (AMP)
    gpu: Gpu
    batch: int
    size: int
    source: str


# NVIDIA DeepLearningExamples, PyTorch/Classification/ConvNets/resnet50v1.5/README.md, "Training
# performance: NVIDIA DGX A100 (8x A100 80GB)", 1 GPU: 938 img/s TF32, 2,470 img/s mixed precision
# (pytorch-21.03 NGC container; configs.yml: batch 256, 224 px, NHWC for AMP). AMP there is fp16,
# whose tensor-core peak equals bf16's.
RESNET50 = Anchor(
    {"tf32": 938.0, "bf16": 2470.0},
    A100,
    256,
    224,
    "NVIDIA DeepLearningExamples ConvNets/resnet50v1.5/README.md (DGX A100, 1 GPU)",
)
# the same, ConvNets/efficientnet/README.md: efficientnet-b0, 1 GPU, 1,078 img/s TF32, 2,489 AMP
EFFICIENTNET_B0 = Anchor(
    {"tf32": 1078.0, "bf16": 2489.0},
    A100,
    256,
    224,
    "NVIDIA DeepLearningExamples ConvNets/efficientnet/README.md (DGX A100, 1 GPU)",
)
# No NVIDIA figure exists for DenseNet-121. timm's benchmark-train-amp-nhwc-pt112-cu113-rtx3090.csv
# trains it at 913.65 img/s against ResNet-50's 1,218.01 (AMP, NHWC, 224 px): 0.75 of ResNet-50,
# applied here to ResNet-50's A100 figures (a ratio measured on another GPU: an assumption).
DENSENET121_OVER_RESNET50 = 913.65 / 1218.01
DENSENET121 = Anchor(
    {p: v * DENSENET121_OVER_RESNET50 for p, v in RESNET50.images_per_s.items()},
    A100,
    256,
    224,
    "ResNet-50's DeepLearningExamples A100 figures x 0.75, timm's RTX 3090 AMP NHWC ratio",
)
ANCHORS = {"resnet50": RESNET50, "efficientnet_b0": EFFICIENTNET_B0, "densenet121": DENSENET121}

# H100 over A100 for the same training job. MLPerf Training v3.0, Dell XE9680 with 8 x A100 SXM
# 80GB against 8 x H100 SXM 80GB, ResNet-50 (fp16, NHWC, DALI): about 3,575 against 7,011 img/s a
# GPU, 1.96x (mlcommons/training_results_v3.0, Dell/results/*/resnet). MLPerf's code is tuned far
# beyond PyTorch eager, which gains less from the faster chip: 1.5x pessimistic; 2.2x optimistic.
H100_OVER_A100 = Span(2.2, 1.96, 1.5)

# The host's cost of one dispatched op in PyTorch eager on a GPU (Python, the dispatcher,
# autograd, the kernel launch). pytorch/pytorch#41383: about 5-7 us for the simplest op with
# autograd on the CPU; a CUDA launch adds a few us (#161104: 1.3 us for a 1,024-element add's
# latency alone); the issue that asked for this model quotes 5-25 us. benchmarks/gpu_check.sh
# measures it on the GPU (a host-bound step: seconds over dispatched ops).
DISPATCH_US = Span(6.0, 10.0, 20.0)
# An op that launches no kernel (a view, an allocation: most of a training step's dispatched ops)
# costs the dispatcher and autograd alone: pytorch/pytorch#41383, "x*x with requires_grad=False is
# approx 2 us. Approx half of it is python parsing overhead"; views made inside autograd's C++
# come without the Python half.
VIEW_US = Span(1.0, 2.0, 4.0)

# The shortest a kernel takes on the GPU, however little it does: its launch latency and the gap
# between two kernels (pytorch/pytorch#161104: 1.1-1.3 us for a 1,024-element add on CUDA).
MIN_KERNEL_US = Span(1.5, 2.0, 3.0)

# The fraction of HBM bandwidth a memory-bound kernel reaches. This workplace's H100 copied at
# about 3.0 TB/s counting read and write (device/KINDS.md), 0.9 of 3.35; PyTorch's elementwise
# and normalisation kernels reach less.
BANDWIDTH_EFFICIENCY = Span(0.85, 0.75, 0.6)

# bf16 autocast halves the bytes of the activations the kernels move. Applied to every byte of a
# bf16 step, the optimiser's fp32 traffic and the autocast's own casts (not tallied) included: a
# little optimistic for bf16
BF16_BYTES = 0.5

# Host time a job spends besides its GPU steps (ASSUMPTIONS, stated in the output; measure yours
# with the rules' benchmark files): decode_split's 4 threads at about 400 PNGs of 256 px a second
# each (bench_hot_loop's decode_split_once_s on this machine); a fit's set-up, its arrays, its
# predictions and figures; the CPU-side work of the curation's LPIPS and of the GAN metrics.
DECODE_PER_S = 4 * 400.0
FIT_HOST_S = 20.0
LPIPS_HOST_S = 30.0
METRICS_HOST_S = 60.0
