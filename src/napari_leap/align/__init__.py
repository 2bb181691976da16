"""Registration: find each animal, crop and rotate it into an egocentric box (no Qt).

``napari_leap.align(video, n_animals, box_size)`` is the entry point. Because
``napari_leap.align`` is also the name of this package, the package itself is
callable (it forwards to :func:`napari_leap.align.alignment.align`), so the call
works whether or not the package was imported first. Names below load lazily.
"""

from __future__ import annotations

import importlib
import sys
import types

_EXPORTS = {
    "align": "napari_leap.align.alignment",
    "iter_align": "napari_leap.align.alignment",
    "Alignment": "napari_leap.align.alignment",
    "AlignProgress": "napari_leap.align.alignment",
    "write_boxes": "napari_leap.align.alignment",
    "correct_headings": "napari_leap.align.alignment",
    "correct_with_poses": "napari_leap.align.alignment",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'napari_leap.align' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from napari_leap.align.alignment import align

        return align(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
