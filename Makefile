# Two commands on a fresh machine:  `make demo`  and  `make test`.
.PHONY: setup demo test lint bench

setup:
	bash scripts/setup.sh

# The main job on the bundled real clip; headless (screenshot + files in demo_out/) without a display.
demo: setup
	@if [ -n "$$DISPLAY" ]; then .venv/bin/napari-leap demo; \
	else xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/napari-leap demo --headless demo_out; fi

# The whole test suite; napari's tests need an X display with OpenGL, so they run under Xvfb.
# Two pytest-xdist workers, a test file each at a time (its fixtures are trained once): on
# 2 cores 744 s against 1,082 s in one process (benchmarks/README.md, "The test suite's time").
test: setup
	xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest -p no:cacheprovider -n 2 --dist loadfile

# ruff (style, docstrings, complexity), the size limits of docs/architecture.md, mypy over the core
lint: setup
	.venv/bin/ruff check src tests benchmarks scripts && .venv/bin/ruff format --check src tests benchmarks scripts
	.venv/bin/python scripts/check_limits.py
	.venv/bin/python -m mypy

bench: setup
	for b in benchmarks/*.py; do .venv/bin/python $$b; done
