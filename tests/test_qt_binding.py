"""Issue 13 item 13: `pip install napari-leap[all]` gives the Qt binding napari recommends
(PyQt5 makes napari 0.9 warn on every start that its support is deprecated)."""

from __future__ import annotations

import re
from importlib.metadata import requires
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _napari_extra(extra: str) -> list[str]:
    """The requirements napari's installed metadata lists for one of its extras."""
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    return [r.split(";")[0].strip() for r in requires("napari") or [] if marker.search(r)]


def _binding_extra(extra: str) -> str:
    """Follow napari's extras that only name other napari extras (qt -> pyqt -> pyqt6)."""
    for _ in range(10):
        inner = [re.fullmatch(r"napari\[([\w,-]+)\].*", r) for r in _napari_extra(extra)]
        named = [m.group(1).split(",") for m in inner if m]
        if not named:
            return extra
        extra = [e for group in named for e in group if e != "optional"][0]
    raise AssertionError("napari's Qt extras go round in a circle")


def test_all_extra_installs_the_binding_napari_recommends():
    tomllib = pytest.importorskip("tomllib")
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    recommended = _binding_extra("qt")  # napari's own default Qt
    assert recommended == _binding_extra("all")
    assert any(r.startswith(f"napari[{recommended}]") for r in ours["optional-dependencies"]["all"])
    assert not any("pyqt5" in r.lower() for r in ours["optional-dependencies"]["all"])
