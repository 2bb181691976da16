"""What a time budget buys: the input scale and batch from the animal's size and the seconds.

Two things decide a pose model's accuracy per CPU minute (benchmarks/README.md, "What a
training step costs"): how many pixels the network sees per step, which sets the step's
time (``a + b * batch * pixels``, measured per architecture by benchmarks/step_rate.py),
and how many pixels the animal spans in the network's input, which sets how far the
images can be shrunk. The plan keeps the animal at about :data:`TARGET_ANIMAL_PX` input
pixels (fly32 at scale 0.5: 1.86 px median in 10 CPU minutes) and, when the budget
cannot buy :data:`TARGET_STEPS` steps there, halves the batch and then shrinks the
input, never below :data:`MIN_ANIMAL_PX`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

#: the animal's extent (long side of its labelled points' box) in network-input pixels.
#: fly32's 135 px flies at scale 0.5 (68 px) reached 1.86 px median in 10 CPU minutes.
TARGET_ANIMAL_PX = 64.0
#: the budget never shrinks the animal below this many input pixels. In the same ~150 CPU
#: seconds fly32 reached 5.68 px median at 67 px and batch 8 (600 steps), 3.54 px at batch 4
#: (1,200 steps), 3.56 px at 45 px (1,100 steps) and 3.40 px at 34 px (1,675 steps):
#: short of steps, pixels are worth trading for them down to here (step_rate.py --accuracy)
MIN_ANIMAL_PX = 32.0
#: optimisation steps a budget should buy: fly32's U-Net reached 3 px median after ~1,000
#: steps, 2.4 px after 2,500 and 1.86 px after 4,800 (benchmarks/README.md)
TARGET_STEPS = 2000
#: steps of a run without a time limit (accuracy_vs_labels.py's protocol: 2.43 px on fly32)
DEFAULT_STEPS = 2500
#: smallest batch the plan halves to
MIN_BATCH = 2
#: budgets shorter than this are planned from the step model alone: timing a step would
#: spend a good part of them (a warm-up step alone can take seconds)
MIN_MEASURED_S = 10.0
#: seconds per training step on one thread of the 2-core development CPU:
#: ``a + b * batch * input pixels`` (benchmarks/step_rate.py, least squares; README). Only
#: the shape matters: a plan scales it to the step it measures on the machine it runs on.
STEP_COST = {
    "unet": (0.054, 4.06e-6),
    "leap_cnn_fast": (0.014, 1.21e-5),
    "leap_cnn": (0.027, 3.54e-5),
}


def default_batch(device) -> int:
    """LEAP's batch on a GPU, a quarter of it on a CPU (steps there cost per image)."""
    return 32 if getattr(device, "type", str(device)) == "cuda" else 8


def animal_extent(points: np.ndarray) -> float:
    """Median over images of the long side of the labelled points' box, in image pixels.

    The size that decides how far an image can be shrunk; NaN when no image has two
    labelled body parts.
    """
    pts = np.asarray(points, dtype=np.float64)
    ok = np.asarray(np.isfinite(pts).all(-1))
    usable = ok.sum(-1) >= 2
    if not usable.any():
        return math.nan
    p = np.where(ok[..., None], pts, np.nan)[usable]
    side = np.nanmax(np.nanmax(p, 1) - np.nanmin(p, 1), -1)
    return float(np.median(side))


def snap_scale(scale: float, input_size, multiple: int) -> float:
    """``scale`` moved up so the long side lands on a multiple of the network's size step.

    The network pads its input to that multiple anyway; snapping spends the padding on
    image instead (fly32: 192 px x 0.47 -> 96 px, scale 0.5).
    """
    long_side = max(input_size)
    target = max(multiple, math.ceil(long_side * scale / multiple) * multiple)
    return float(min(1.0, target / long_side))


def scale_for(animal_px: float, extent: float, input_size, multiple: int) -> float:
    """The snapped scale that shows an animal of ``extent`` pixels at ``animal_px``."""
    if not math.isfinite(extent) or extent <= 0:
        extent = float(max(input_size))
    return snap_scale(min(1.0, animal_px / extent), input_size, multiple)


def input_pixels(input_size, scale: float, multiple: int) -> int:
    """Pixels of the padded network input at ``scale``."""
    from napari_leap.pose.trained import scaled_size

    _, (ph, pw) = scaled_size(input_size, scale, multiple)
    return ph * pw


def model_step_seconds(arch: str, batch: int, pixels: int) -> float:
    """Modelled seconds per step on the development CPU (one thread)."""
    a, b = STEP_COST.get(arch, STEP_COST["unet"])
    return a + b * batch * pixels


@dataclass(frozen=True)
class NetSpec:
    """A network to build: the trainer and the step timer build the same one."""

    arch: str
    params: dict
    channels: int
    n_nodes: int

    def build(self, device):
        """The fresh network on ``device``, channels-last where that is faster."""
        import torch

        from napari_leap.pose.models import build_model
        from napari_leap.pose.trained import channels_last

        net = build_model(self.arch, self.channels, self.n_nodes, **self.params).to(device)
        if channels_last(device):
            net = net.to(memory_format=torch.channels_last)
        return net


@dataclass
class Plan:
    """What a run will train at, and why (``text`` is printed by the CLI and the dock)."""

    input_scale: float
    batch_size: int
    step_seconds: float  # measured on this machine at the plan's scale and batch
    steps: int  # steps the budget allows at that rate (or the planned steps without one)
    animal_px: float  # the animal's extent in network-input pixels
    text: str


@dataclass(frozen=True)
class Sizing:
    """What the plan sizes: the network, its input and the animal in it."""

    arch: str
    input_size: tuple[int, int]
    multiple: int  # the network pads its input to a multiple of this
    extent: float  # the animal's size in image pixels (:func:`animal_extent`)

    def scale_for(self, animal_px: float) -> float:
        """The snapped scale that shows the animal at ``animal_px``."""
        return scale_for(animal_px, self.extent, self.input_size, self.multiple)

    def model_seconds(self, scale: float, batch: int) -> float:
        """Modelled seconds of a step at ``scale`` and ``batch`` (development CPU)."""
        pixels = input_pixels(self.input_size, scale, self.multiple)
        return model_step_seconds(self.arch, batch, pixels)


def plan_budget(
    sizing: Sizing,
    seconds: float | None,
    measure,
    device,
    *,
    input_scale: float | None = None,
    batch_size: int | None = None,
    overhead: float = 0.0,
) -> Plan:
    """Scale and batch for a run of ``seconds`` (None: no limit), fixed ones kept.

    ``measure(scale, batch)`` times a training step on this machine, so the plan fits
    the computer it runs on; the measured step model only says how time changes with
    pixels and batch. ``overhead`` is the fraction of step time spent on validation.
    """
    scale = input_scale or sizing.scale_for(TARGET_ANIMAL_PX)
    batch = batch_size or default_batch(device)
    measured = seconds is not None and seconds >= MIN_MEASURED_S
    if not measured:  # the development CPU's figures stand in for this machine's
        measure = sizing.model_seconds
    t = measure(scale, batch) if seconds is not None else math.nan
    if seconds is not None and seconds / (t * (1 + overhead)) < TARGET_STEPS:
        budget = seconds / (1 + overhead)
        fixed = {"fix_scale": input_scale is not None, "fix_batch": batch_size is not None}

        def cheaper(at: tuple[float, int], seconds_there: float) -> tuple[float, int]:
            # the measured step fixes this machine's speed; the model gives the shape
            speed = seconds_there / sizing.model_seconds(*at)
            return _cheaper(sizing, budget / speed, scale, batch, **fixed)

        chosen = cheaper((scale, batch), t)
        if chosen != (scale, batch):
            t_chosen = measure(*chosen)
            # a second look from the chosen step, nearer the ones it is weighed against:
            # a larger input is taken only when its own timed step buys the steps
            again = cheaper(chosen, t_chosen)
            if again not in (chosen, (scale, batch)):
                t_again = measure(*again)
                smaller = sizing.model_seconds(*again) < sizing.model_seconds(*chosen)
                if smaller or budget / t_again >= TARGET_STEPS:
                    chosen, t_chosen = again, t_again
            (scale, batch), t = chosen, t_chosen
    extent = sizing.extent
    extent_px = extent * scale if math.isfinite(extent) else math.nan
    text = f"input scale {scale:g} (animal ~{extent_px:.0f} px), batch {batch}"
    if seconds is None:
        steps = DEFAULT_STEPS
    else:
        steps = int(seconds / (t * (1 + overhead)))
        how = "measured" if measured else "expected"
        text += f": {1 / t:.1f} steps/s {how}, about {steps} steps in the {seconds:.0f} s left"
        if steps < TARGET_STEPS:
            text += f" (fewer than the {TARGET_STEPS} that train well: give more time)"
    return Plan(scale, batch, t, steps, extent_px, text)


def _cheaper(
    sizing: Sizing, model_seconds: float, scale: float, batch: int, fix_scale: bool, fix_batch: bool
):
    """The first of these whose modelled steps reach :data:`TARGET_STEPS`, else the last.

    The batch halved (not below 4), then the input shrunk step by step towards the
    :data:`MIN_ANIMAL_PX` floor, then the batch halved down to :data:`MIN_BATCH`: at equal
    CPU time each of these bought fly32 as much accuracy as the last, and the animal's
    pixels are what subpixel precision needs once there are steps enough.
    """
    half = batch if fix_batch or batch < 8 else batch // 2
    scales = [scale]
    if not fix_scale:
        long_side, multiple = max(sizing.input_size), sizing.multiple
        floor = sizing.scale_for(MIN_ANIMAL_PX)
        top = int(round(scale * long_side / multiple))
        bottom = max(1, int(round(floor * long_side / multiple)))
        scales += [k * multiple / long_side for k in range(top - 1, bottom - 1, -1)]
    candidates = [(scale, batch)] + [(s, half) for s in scales]
    if not fix_batch:
        candidates += [
            (scales[-1], b) for b in range(half // 2, MIN_BATCH - 1, -1) if b & (b - 1) == 0
        ]
    for s, b in candidates:
        if model_seconds / sizing.model_seconds(s, b) >= TARGET_STEPS:
            return s, b
    return candidates[-1]


def time_training_steps(
    net: NetSpec,
    hw: tuple[int, int],
    batch: int,
    device,
    *,
    steps: int = 3,
    sigma: float = 5.0,
    max_seconds: float = math.inf,
    oversample: int = 1,
) -> float:
    """Seconds per training step of a fresh network on random images of ``hw`` pixels.

    The same step the trainer runs (augmentation, targets, forward, backward, Adam),
    after one warm-up step; the content of the images does not change the time. Stops
    after ``steps`` steps or, past the first, ``max_seconds``.
    """
    import torch

    from napari_leap.pose.augment import AugmentConfig
    from napari_leap.pose.train.step import Learner, MapSpec, train_step

    dev = torch.device(device) if not isinstance(device, torch.device) else device
    gen = torch.Generator().manual_seed(0)
    rng_state = torch.get_rng_state()
    model = net.build(dev)
    stride = int(getattr(model, "output_stride", 1))
    h, w = hw
    big = (batch, net.channels, h * oversample, w * oversample)
    x = torch.randint(0, 256, big, dtype=torch.uint8, generator=gen).to(dev)
    p = (torch.rand(batch, net.n_nodes, 2, generator=gen) * torch.tensor([w - 1, h - 1])).to(dev)
    learner = Learner(
        model,
        torch.optim.Adam(model.parameters(), lr=1e-3),
        torch.amp.GradScaler("cuda", enabled=dev.type == "cuda"),
        gen,
        AugmentConfig(),
        list(range(net.n_nodes)),
        MapSpec((h // stride, w // stride), stride, sigma),
        oversample,
    )
    idx = torch.arange(batch)

    def step():
        train_step(learner, x, p, idx)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    step()
    t0 = time.perf_counter()
    done = 0
    while done < steps and (done == 0 or time.perf_counter() - t0 < max_seconds):
        step()
        done += 1
    seconds = (time.perf_counter() - t0) / done
    torch.set_rng_state(rng_state)  # timing leaves the run's random stream as it was
    return seconds
