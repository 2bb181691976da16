#!/usr/bin/env bash
# Set up everything napari-leap needs on a fresh Debian/Ubuntu machine with Python >= 3.10:
# system libraries for napari's OpenGL/Qt under Xvfb, a virtual environment in .venv,
# torch (the CPU build where there is no NVIDIA GPU), and the package with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
APT_PACKAGES="xvfb xauth libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0
  libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-xinput0
  libxcb-xfixes0 libxcb-shape0 libxcb-cursor0 libdbus-1-3 libfontconfig1"

missing=()
if command -v dpkg >/dev/null 2>&1; then
  for p in $APT_PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip

if ! python -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    python -m pip install -q "torch>=2.1,<3"          # CUDA build for the GPU
  else
    python -m pip install -q "torch==2.13.0" || python -m pip install -q "torch>=2.1,<3" \
      --index-url https://download.pytorch.org/whl/cpu
  fi
fi
python -m pip install -q -e ".[testing]"
# [all] brings PyQt6, the binding napari recommends; a .venv made before keeps PyQt5 too, and
# with both qtpy (napari) would take PyQt5 while pytest-qt takes PyQt6: keep one binding
if python -c "import PyQt5, PyQt6" >/dev/null 2>&1; then
  python -m pip uninstall -q -y PyQt5 PyQt5-Qt5 PyQt5-sip
fi
echo "setup: done ($(python -c 'import torch, napari, qtpy; print("torch", torch.__version__, "napari", napari.__version__, qtpy.API_NAME)'))"
