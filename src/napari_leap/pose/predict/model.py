"""Trained models for prediction: loaded once per process, fingerprinted, run on batches."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from napari_leap.pose.predict.inputs import Geometry, to_video
from napari_leap.pose.predict.results import PredictError


@lru_cache(maxsize=4)
def _load_model_cached(model_dir: str, device: str | None):
    from napari_leap.pose.trained import TrainedModel

    return TrainedModel.load(model_dir, device=device)


def load_model(model, device: str | None = None):
    """A ``TrainedModel`` from itself or its folder; loaded once per process and device."""
    if hasattr(model, "predict_images"):
        return model
    path = Path(model)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; give a trained model folder.")
    if not path.is_dir():
        raise PredictError(f"{path} is a file; give the trained model's folder.")
    return _load_model_cached(str(path.resolve()), device)


def model_dir(model) -> str | None:
    """The model's folder (resolved), or None for a model built in memory."""
    d = getattr(model, "model_dir", None) or getattr(model, "path", None)
    return str(Path(d).resolve()) if d else None


def model_fingerprint(model) -> str:
    """Identifies the weights, so chunks of another model are never reused."""
    h = hashlib.sha1()
    d = model_dir(model)
    if d:
        for p in sorted(Path(d).rglob("*")):  # a learned alignment's stage is in a subfolder
            if p.is_file() and p.suffix in (".pt", ".pth", ".json", ".yaml", ".ckpt"):
                st = p.stat()
                h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    else:
        for t in model.net.state_dict().values():
            h.update(t.detach().cpu().numpy().tobytes())
    return h.hexdigest()


class PoseStage:
    """Forward passes on whole batches under ``torch.inference_mode``."""

    def __init__(self, model, geo: Geometry, flip_average: bool = False):
        self.model = model
        self.geo = geo
        self.flip_average = flip_average
        k = len(model.skeleton.nodes) if hasattr(model.skeleton, "nodes") else len(model.skeleton)
        self.n_nodes = k

    def __call__(self, images: np.ndarray, mats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Video points ``(n, A, K, 2)`` and scores ``(n, A, K)``; NaN for missing animals."""
        import torch

        n = mats.shape[0]
        with torch.inference_mode():
            if self.flip_average:
                pts, sc = self.model.predict_images(images, flip_average=True)
            else:
                pts, sc = self.model.predict_images(images)
        pts = np.asarray(pts, dtype=np.float64).reshape(n, self.geo.n_animals, self.n_nodes, 2)
        sc = np.asarray(sc, dtype=np.float64).reshape(n, self.geo.n_animals, self.n_nodes)
        video_pts = to_video(pts, mats)
        missing = ~np.isfinite(mats).all(axis=(-1, -2))  # animals the alignment did not find
        video_pts[missing] = np.nan
        sc[missing] = np.nan
        return video_pts, sc


def channels_of(model) -> int:
    """Colour channels the model takes (1: grey)."""
    return int(model.config.get("channels", 1))
