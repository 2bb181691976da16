"""The one error message style every dock shows (napari/widgets/errors.py), without Qt."""

from __future__ import annotations

import errno

from napari_leap.errors import LeapError
from napari_leap.napari.widgets.errors import error_message, show_error


def test_a_users_error_reads_as_its_own_sentence():
    assert error_message(LeapError("box size 2 px is too small;\n use at least 4 px.")) == (
        "box size 2 px is too small; use at least 4 px."
    )
    full = OSError(errno.ENOSPC, "No space left on device", "/out/model.pt")
    assert error_message(full, "training").startswith("the disk is full")


def test_a_bug_names_its_type_and_asks_to_be_reported():
    message = error_message(KeyError("head"), "the preview")
    assert message == "the preview failed (KeyError: 'head'); please report it."


def test_text_is_shown_as_it_is_through_napari(monkeypatch):
    import napari.utils.notifications as notifications

    shown = []
    monkeypatch.setattr(notifications, "show_error", shown.append)
    assert show_error("Run the alignment first.") == "Run the alignment first."
    assert show_error(RuntimeError("boom"), "prediction") == (
        "prediction failed (RuntimeError: boom); please report it."
    )
    assert shown == [
        "Run the alignment first.",
        "prediction failed (RuntimeError: boom); please report it.",
    ]
