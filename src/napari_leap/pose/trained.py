"""A trained model folder, loaded for inference: everything ``predict`` needs and nothing else.

Folder layout: ``config.json`` (architecture, skeleton, preprocessing,
alignment settings, training summary, and under ``fit`` what predict checks a new input
against), ``best.pt`` (weights of the best
validation epoch), ``last.pt`` (full checkpoint for resuming) and
``history.json`` (per-epoch losses and errors).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.model.skeleton import Skeleton, flip_permutation, propose_symmetries

CONFIG = "config.json"
BEST = "best.pt"
LAST = "last.pt"
HISTORY = "history.json"
#: grey background of the training alignment (see :func:`alignment_config`)
BACKGROUND = "alignment_background.png"


def model_flip_permutation(config: dict) -> list[int]:
    """Part order after a left/right flip: the training's pairs, else the skeleton's or names'."""
    skeleton = Skeleton.from_dict(config["skeleton"])
    pairs = (config.get("training") or {}).get("flip_pairs")
    if not pairs:
        pairs = skeleton.symmetries or propose_symmetries(skeleton.nodes)
    return flip_permutation(len(skeleton.nodes), pairs)


class ModelError(LeapError):
    """A model folder that is missing, incomplete or damaged."""


def channels_last(device) -> bool:
    """NHWC tensors: faster convolutions on CUDA and on CPU (oneDNN).

    CPU, 2 cores: U-Net training step 120 vs 140 ms, forward 33 vs 49 ms (batch 8, 96 px);
    LEAP CNN no slower. MPS is left alone (unmeasured).
    """
    return device.type in ("cpu", "cuda")


def choose_device(device=None):
    """``device`` as given, else CUDA, then Apple MPS, then CPU."""
    import torch

    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def scaled_size(
    input_size, input_scale: float, multiple: int
) -> tuple[tuple[int, int], tuple[int, int]]:
    """(scaled h, w) of the image content and the padded (h, w) the network takes."""
    h, w = (max(1, int(round(s * input_scale))) for s in input_size)
    ph, pw = (int(math.ceil(s / multiple) * multiple) for s in (h, w))
    return (h, w), (ph, pw)


class Preprocessor:
    """uint8 (B, H, W, C) images -> scaled, padded float (B, C, h, w) tensors, and back for points.

    Scaling uses ``F.interpolate`` (half-pixel centres), so an input coordinate
    ``x`` sits at ``(x + 0.5) * r - 0.5`` in the scaled image with
    ``r = scaled / original``; padding goes right and bottom, moving nothing.
    """

    def __init__(self, input_size, input_scale: float, channels: int, multiple: int, device):
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.input_scale = float(input_scale)
        self.channels = int(channels)
        self.device = device
        self.scaled, self.padded = scaled_size(self.input_size, self.input_scale, multiple)
        self.ratio = (
            self.scaled[1] / self.input_size[1],
            self.scaled[0] / self.input_size[0],
        )  # x, y

    def __call__(self, images, dtype=None, oversample: int = 1):
        """Uint8 images ``(N, H, W[, C])`` as the network's padded float input ``(N, C, h, w)``.

        ``oversample``: that many times the input's size (training warps them there).
        """
        import torch

        x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
        if x.ndim == 3:
            x = x[..., None]
        if tuple(x.shape[1:3]) != self.input_size:
            raise LeapError(
                f"images are {x.shape[2]}x{x.shape[1]} but the model takes "
                f"{self.input_size[1]}x{self.input_size[0]}; crop or align them first."
            )
        x = x.to(self.device, non_blocking=True).permute(0, 3, 1, 2)
        if x.shape[1] != self.channels:
            x = x.float().mean(1, keepdim=True) if self.channels == 1 else x.expand(-1, 3, -1, -1)
        x = x.to(dtype or torch.float32) / 255.0
        scaled = tuple(s * oversample for s in self.scaled)
        padded = tuple(s * oversample for s in self.padded)
        if scaled != self.input_size:
            x = torch.nn.functional.interpolate(
                x,
                size=scaled,
                mode="bilinear",
                align_corners=False,
                antialias=self.input_scale * oversample < 1,
            )
        if padded != scaled:
            x = torch.nn.functional.pad(x, (0, padded[1] - scaled[1], 0, padded[0] - scaled[0]))
        return x

    def to_scaled(self, points):
        """Input-pixel points (..., 2) to scaled-image pixels (torch or numpy)."""
        r = points.new_tensor(self.ratio) if hasattr(points, "new_tensor") else np.array(self.ratio)
        return (points + 0.5) * r - 0.5

    def to_input(self, points):
        """Scaled-image pixel points back to input pixels (inverse of :meth:`to_scaled`)."""
        r = points.new_tensor(self.ratio) if hasattr(points, "new_tensor") else np.array(self.ratio)
        return (points + 0.5) / r - 0.5


def alignment_config(model_dir: str | Path, info: dict | None) -> dict | None:
    """The training alignment's settings as ``config.json`` keeps them.

    Its background image goes to :data:`BACKGROUND` beside the config (named in
    it), so prediction finds animals the same way even on a frame range or a
    short cut of the video in which they never move (see
    :func:`napari_leap.align.detect.background_agrees`).
    """
    if info is None or info.get("background") is None:
        return info
    import cv2

    from napari_leap.io.atomic import atomic_write_bytes

    ok, png = cv2.imencode(".png", np.ascontiguousarray(info["background"], dtype=np.uint8))
    if not ok:  # pragma: no cover - a 2-D uint8 image always encodes
        raise ModelError("the alignment background could not be encoded as PNG.")
    atomic_write_bytes(Path(model_dir) / BACKGROUND, png.tobytes())
    return {**info, "background": BACKGROUND}


class TrainedModel:
    """A model folder loaded on a device: ``predict_images`` maps images to body-part positions."""

    def __init__(self, config: dict, net, device, model_dir: Path | None = None):
        import torch

        self.config = config
        self.skeleton = Skeleton.from_dict(config["skeleton"])
        self.device = torch.device(device)
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.output_stride = int(config["output_stride"])
        from napari_leap.pose.models import fold_batchnorm

        self.net = fold_batchnorm(net.to(self.device).eval())
        self.use_amp = self.device.type == "cuda"
        self._flip_perm: list[int] | None = None  # built on first use, then reused per batch
        if channels_last(self.device):
            self.net = self.net.to(memory_format=torch.channels_last)
        self.preprocessor = Preprocessor(
            config["input_size"],
            config["input_scale"],
            config["channels"],
            int(config["size_multiple"]),
            self.device,
        )

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, model_dir: str | Path, device=None) -> TrainedModel:
        """The model in ``model_dir`` (its best weights) on ``device`` (default: the best one)."""
        import torch

        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise ModelError(f"{model_dir} is not a model folder; give the folder `train` wrote.")
        cfg_path = model_dir / CONFIG
        weights = model_dir / BEST
        if not cfg_path.exists() or not weights.exists():
            missing = CONFIG if not cfg_path.exists() else BEST
            raise ModelError(
                f"{model_dir} has no {missing}; it is not a finished model folder "
                "(train again or resume with --resume)."
            )
        try:
            config = json.loads(cfg_path.read_text())
            net = build_net(config)
        except (ValueError, KeyError, TypeError) as e:
            raise ModelError(f"{cfg_path} is damaged ({e}); train the model again.") from None
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            net.load_state_dict(state.get("model", state))
        except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
            raise ModelError(
                f"{weights} is corrupt or from another model ({type(e).__name__}); "
                "train the model again."
            ) from None
        return cls(config, net, choose_device(device), model_dir)

    # -- inference stages ----------------------------------------------------------------
    def preprocess(self, images, preprocessor: Preprocessor | None = None):
        """uint8 (B, H, W, C) at ``input_size`` -> network input on the device.

        ``preprocessor``: another input size for this fully convolutional net (the
        first stage's windows), instead of :attr:`preprocessor`.
        """
        import torch

        x = (preprocessor or self.preprocessor)(images)
        if channels_last(self.device):
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def forward_confmaps(self, x, flip_average: bool = False):
        """Raw network output (B, K, h, w) as float32.

        ``flip_average``: the mean of the maps of ``x`` and of ``x`` flipped left/right
        (flipped back, symmetric parts swapped): twice the compute, lower error where
        training flipped its images (fly32: 2.14 -> 2.04 px median, p95 9.3 -> 8.1).
        """
        import torch

        perm = self.flip_average_permutation() if flip_average else None
        with (
            torch.inference_mode(),
            torch.autocast(self.device.type, enabled=self.use_amp, dtype=torch.float16),
        ):
            maps = self.net(x).float()
            if perm is not None:
                # the output grid mirrors onto itself: output width x stride = padded input width
                back = self.net(x.flip(-1)).float().flip(-1)[:, perm]
                maps = (maps + back) / 2
            return maps

    def flip_average_permutation(self) -> list[int]:
        """Part order of a flipped image's maps; refused for a model trained without flips."""
        if self._flip_perm is None:
            training = self.config.get("training") or {}
            if not (training.get("augment") or {}).get("flip"):
                raise ModelError(
                    "this model was trained without left/right flips (its skeleton has no "
                    "left/right pairs), so it cannot average with flipped images; predict "
                    "without flip averaging."
                )
            self._flip_perm = model_flip_permutation(self.config)
        return self._flip_perm

    def peaks(self, confmaps):
        """Peaks (B, K, 2) in input-image pixels and their confidences (B, K), as torch tensors."""
        from napari_leap.pose.confmaps import find_peaks

        pts, scores = find_peaks(confmaps, self.output_stride)
        return self.preprocessor.to_input(pts), scores

    def predict_images(self, images, flip_average: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Body-part positions (B, K, 2) x,y float64 and peak confidences (B, K) of a batch."""
        import torch

        with torch.inference_mode():
            maps = self.forward_confmaps(self.preprocess(images), flip_average)
            pts, scores = self.peaks(maps)
        return pts.double().cpu().numpy(), scores.double().cpu().numpy()

    @property
    def input_size(self) -> tuple[int, int]:
        """Height and width of the images the model takes."""
        return tuple(self.config["input_size"])

    @property
    def alignment(self) -> dict | None:
        """The training alignment's settings (None for a model of whole frames)."""
        return self.config.get("alignment")

    @property
    def alignment_background(self) -> np.ndarray | None:
        """The training alignment's grey background (None for older or unaligned models)."""
        name = (self.alignment or {}).get("background")
        if not name or self.model_dir is None or not (self.model_dir / name).is_file():
            return None
        import cv2

        return cv2.imread(str(self.model_dir / name), cv2.IMREAD_GRAYSCALE)

    @property
    def fit_reference(self) -> dict:
        """What the training data were, for predict's fit check (``napari_leap.pose.fit``).

        ``channels``, ``input_size``, ``input_scale``, and from ``config["fit"]`` (None in
        folders older than the check): ``frame_sizes``, ``animal_extent_px`` and
        ``val_confidence`` (quantiles of the validation images' median confidence).
        """
        fit = self.config.get("fit") or {}
        return {
            "channels": int(self.config["channels"]),
            "input_size": self.input_size,
            "input_scale": float(self.config["input_scale"]),
            "frame_sizes": [tuple(s) for s in fit.get("frame_sizes") or []] or None,
            "animal_extent_px": fit.get("animal_extent_px"),
            "val_confidence": fit.get("val_confidence"),
        }

    def __repr__(self) -> str:
        return (
            f"TrainedModel({self.config['arch']}, {len(self.skeleton)} nodes, input "
            f"{self.input_size} x{self.config['input_scale']}, device={self.device})"
        )


def build_net(config: dict):
    """The untrained network a config describes (weights are loaded after)."""
    from napari_leap.pose.models import build_model

    return build_model(
        config["arch"],
        int(config["channels"]),
        len(config["skeleton"]["nodes"]),
        **config.get("arch_params", {}),
    )
