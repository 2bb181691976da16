"""Long work is a generator of progress events that returns its result; this runs one to the end.

The widgets feed the same generators to napari's ``thread_worker`` and the CLI
to a tqdm bar, so every step reports progress and can be stopped the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

E = TypeVar("E")
R = TypeVar("R")


def run_to_end(gen: Generator[E, None, R], progress: Callable[[E], None] | None = None) -> R:
    """Exhaust ``gen``, handing each event to ``progress``, and return the generator's result."""
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(event)
