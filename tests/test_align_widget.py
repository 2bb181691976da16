"""The Align dock widget in a real viewer (run under ``xvfb-run -a``).

Set ``NAPARI_LEAP_SCREENSHOTS=1`` to also write ``docs/images/align.png``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import CLIP
from napari_leap.napari._compat import viewer_canvas

pytestmark = pytest.mark.gui


@pytest.fixture
def clip_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open(str(CLIP), plugin="napari-leap")
    return viewer


def _widget(viewer, n=2):
    from napari_leap.napari.widgets.align import AlignWidget

    widget = AlignWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Align")
    widget.animals_spin.setValue(n)
    return widget


def test_preview_follows_frame_and_parameters(clip_viewer, qtbot):
    from napari_leap.napari.widgets.align import HEADING_NAME, PREVIEW_NAME

    viewer = clip_viewer
    widget = _widget(viewer)
    assert widget.video_combo.currentText() == "clip"
    shapes = viewer.layers[PREVIEW_NAME]
    vectors = viewer.layers[HEADING_NAME]
    assert len(shapes.data) == 2 and len(vectors.data) == 2
    assert "threshold" in widget.info.text() and "light" in widget.info.text()
    # the arrows start at the flies (near the labelled thoraxes of frame 0)
    starts = np.sort(vectors.data[:, 0, 1])  # x of the two arrow tails
    np.testing.assert_allclose(starts, [302, 396], atol=15)
    before = vectors.data.copy()
    viewer.dims.set_current_step(0, 1400)
    qtbot.waitUntil(lambda: not np.allclose(vectors.data, before), timeout=5000)
    # the preview reuses the frame napari decoded for display
    from napari_leap.io.video import source_of
    from napari_leap.napari._compat import displayed_image

    shown = displayed_image(viewer.layers["clip"], 1400)
    assert shown is not None
    np.testing.assert_array_equal(shown, source_of(viewer.layers["clip"].data).read(1400))
    # one animal asked for: one box
    widget.animals_spin.setValue(1)
    assert len(viewer.layers[PREVIEW_NAME].data) == 1
    widget.box_spin.setValue(200)
    corners = viewer.layers[PREVIEW_NAME].data[0]
    side = np.linalg.norm(corners[0] - corners[1])
    assert side == pytest.approx(200, abs=1e-3)
    widget.preview_check.setChecked(False)
    assert not viewer.layers[PREVIEW_NAME].visible


def test_run_table_flip_and_cancel(clip_viewer, qtbot, tmp_path):
    viewer = clip_viewer
    widget = _widget(viewer)

    # cancel: stops at once, nothing added, no decoding thread left behind
    worker = widget.run()
    with qtbot.waitSignal(worker.finished, timeout=60000):
        qtbot.waitUntil(
            lambda: widget.progress_bar.value() > 0 or "aligning" in widget.status.text(),
            timeout=60000,
        )
        widget.cancel()
    assert widget.alignment is None and widget.boxes_layer is None
    qtbot.waitUntil(
        lambda: (
            not any(
                t.name == "napari-leap-prefetch" and t.is_alive() for t in threading.enumerate()
            )
        ),
        timeout=5000,
    )
    assert widget.run_button.isEnabled()

    worker = widget.run()
    with qtbot.waitSignal(worker.finished, timeout=120000):
        pass
    al = widget.alignment
    assert al is not None and al.n_frames == 1500 and al.n_animals == 2
    boxes = widget.boxes_layer
    assert boxes.metadata["alignment"] is al
    b = al.box_size
    assert boxes.data.shape == (1500, b, 2 * b)
    assert boxes.translate[-1] > 1024  # beside the video
    viewer.dims.set_current_step(0, 700)
    tile = np.asarray(boxes.data[700])
    np.testing.assert_array_equal(tile[:, :b], al.boxes[700, 0, ..., 0].compute())

    # table of flags; clicking a row jumps to its frame
    assert widget.table.rowCount() == len(al.flagged())
    if widget.table.rowCount():
        widget._on_cell(0, 0)
        assert viewer.dims.current_step[0] == al.flagged()[0][0]

    # flip the animal under the cursor (its box in the boxes layer) and back
    viewer.dims.set_current_step(0, 300)
    x = boxes.translate[-1] + 1.5 * b  # inside the second animal's box
    viewer.cursor.position = (300, b / 2, x)
    assert widget.animal_under_cursor() == 1
    before = al.angles.copy()
    changed = widget.flip()
    assert 300 in changed
    assert np.allclose(
        np.abs(np.angle(np.exp(1j * (al.angles[changed, 1] - before[changed, 1])))), np.pi
    )
    assert np.array_equal(al.angles[:, 0], before[:, 0])
    assert boxes.metadata["alignment"] is al
    widget.flip(frame=300, animal=1)
    np.testing.assert_allclose(np.cos(al.angles - before), 1, atol=1e-9)

    # the f key is bound on the boxes layer and flips the animal under the cursor
    from app_model.types import KeyBinding

    boxes.keymap[KeyBinding.from_str("F")](boxes)
    assert np.cos(al.angles[300, 1] - before[300, 1]) == pytest.approx(-1)
    boxes.keymap[KeyBinding.from_str("F")](boxes)

    # save, then load into a fresh widget over the same video
    saved = al.save(tmp_path / "clip_alignment")
    other = _widget(viewer)
    loaded = other.load_alignment(saved)
    assert loaded is not None and other.alignment is loaded
    np.testing.assert_array_equal(loaded.angles, al.angles)


def test_widget_without_video_stays_usable(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = _widget(viewer, n=1)
    assert widget.video_layer is None
    assert widget.run() is None
    assert widget.flip() is None


@pytest.mark.skipif(not os.environ.get("NAPARI_LEAP_SCREENSHOTS"), reason="screenshots on demand")
def test_screenshot(clip_viewer, qtbot):
    viewer = clip_viewer
    widget = _widget(viewer)
    worker = widget.run()
    with qtbot.waitSignal(worker.finished, timeout=120000):
        pass
    viewer.dims.set_current_step(0, 1150)
    viewer.layers.selection.active = widget.boxes_layer
    viewer.window._qt_window.resize(1500, 900)
    qtbot.wait(300)
    # the two flies and their boxes (right of the video, at its top)
    viewer.camera.center = (400, 860)
    viewer.camera.zoom = 0.85 * min(viewer_canvas(viewer).size) / 700
    qtbot.wait(300)
    out = Path(__file__).resolve().parents[1] / "docs" / "images" / "align.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False)
    assert out.stat().st_size > 10000


def test_bad_settings_give_a_notification_and_the_widget_stays_usable(
    clip_viewer, qtbot, monkeypatch
):
    import napari.utils.notifications as notifications

    messages = []
    monkeypatch.setattr(notifications, "show_error", messages.append)
    widget = _widget(clip_viewer)
    widget.box_spin.setValue(2000)  # larger than the 1024 px frame
    assert widget.run() is None  # refused at once, before any decoding
    assert messages and "larger than the frame" in messages[-1]
    assert widget.alignment is None and widget.run_button.isEnabled()
    assert widget.flip() is None and "Run the alignment first" in messages[-1]
    assert widget.load_alignment(CLIP.parent) is None  # not an alignment folder
    assert "not an alignment folder" in messages[-1]


def test_an_error_during_the_run_is_reported(clip_viewer, qtbot, monkeypatch):
    import napari.utils.notifications as notifications

    import napari_leap.align.alignment as core
    from napari_leap.errors import LeapError

    messages = []
    monkeypatch.setattr(notifications, "show_error", messages.append)

    def broken(*args, **kwargs):
        yield core.AlignProgress(0, 10, "align")
        raise LeapError("clip.mp4: frame 3 cannot be decoded; the file may be damaged.")

    monkeypatch.setattr(core, "iter_align", broken)
    widget = _widget(clip_viewer)
    with qtbot.waitSignal(widget.run_button_enabled, timeout=30000):
        widget.run()
    assert messages and "frame 3 cannot be decoded" in messages[-1]
    assert widget.alignment is None and widget.run_button.isEnabled()
