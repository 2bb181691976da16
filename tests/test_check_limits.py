"""scripts/check_limits.py finds what it is there to find (CI trusts its 'all limits hold')."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_limits.py"


def _check(src: Path, capsys) -> tuple[int, str]:
    spec = importlib.util.spec_from_file_location("check_limits", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rc = module.main(["--src", str(src)])
    return rc, capsys.readouterr().out


def _write(root: Path, rel: str, text: str) -> None:
    path = root / "napari_leap" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_clean_tree_passes(tmp_path, capsys):
    _write(tmp_path, "__init__.py", "")
    _write(tmp_path, "model/__init__.py", "")
    _write(tmp_path, "model/a.py", "def f(a, b):\n    return a + b\n")
    _write(tmp_path, "io/__init__.py", "")
    _write(tmp_path, "io/b.py", "from napari_leap.model.a import f\n")
    rc, out = _check(tmp_path, capsys)
    assert rc == 0 and "all limits hold" in out


def test_each_limit_is_reported(tmp_path, capsys):
    _write(tmp_path, "__init__.py", "")
    _write(tmp_path, "model/__init__.py", "")
    long_body = "".join(f"    x{i} = {i}\n" for i in range(85))
    _write(tmp_path, "model/long.py", f"def long():\n{long_body}\n" + "\n" * 320)
    _write(tmp_path, "model/wide.py", "def wide(a, b, c, d, e, f, g, h, i):\n    pass\n")
    # a deferred import still closes a cycle; model importing io breaks the layering
    _write(tmp_path, "model/x.py", "def g():\n    from napari_leap.model import y\n")
    _write(tmp_path, "model/y.py", "from napari_leap.model.x import g\nimport napari_leap.io.z\n")
    _write(tmp_path, "io/__init__.py", "")
    _write(tmp_path, "io/z.py", "")
    rc, out = _check(tmp_path, capsys)
    assert rc == 1
    assert "model/long.py: 407 lines" in out
    assert "long: 86 lines" in out
    assert "wide: 9 parameters" in out
    assert "import cycle: napari_leap.model.x <-> napari_leap.model.y" in out
    assert "layering: napari_leap.model.y (model) imports napari_leap.io.z (io)" in out
