"""The command line: every subcommand is listed and documented, and --help stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from napari_leap.cli import COMMANDS

CLI = [sys.executable, "-m", "napari_leap.cli"]


def test_help_lists_every_subcommand():
    out = subprocess.run([*CLI, "--help"], capture_output=True, text=True, check=True).stdout
    for name in ("align", "train", "predict", "evaluate", "demo"):
        assert name in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_help(name):
    result = subprocess.run([*CLI, name, "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"usage: napari-leap {name}" in result.stdout


def test_help_does_not_import_torch_or_qt():
    code = (
        "import sys; from napari_leap.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'cv2', 'PyQt5', 'napari') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_user_error_is_one_line_on_stderr(tmp_path):
    result = subprocess.run(
        [*CLI, "evaluate", str(tmp_path / "a.slp"), str(tmp_path / "b.slp")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "does not exist" in result.stderr
