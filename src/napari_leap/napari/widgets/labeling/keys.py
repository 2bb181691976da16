"""The Label dock's keyboard: one table of shortcuts, shown in the dock and bound on the layer."""

from __future__ import annotations

SHORTCUTS = [
    ("click", "place the current body part; moves on to the next one not yet placed"),
    ("drag a point", "move it (a predicted point becomes corrected)"),
    ("Tab / Shift+Tab", "next / previous body part"),
    ("A", "next animal"),
    ("V", "current body part is not visible (skip it)"),
    ("Delete / Backspace", "delete the selected (else the current) body part's point"),
    ("Ctrl+Z", "undo the last edit"),
    ("Right / Left", "next / previous frame"),
    ("Shift+Right / Shift+Left", "next / previous labelled frame"),
    ("S / Shift+S", "next / previous suggested frame"),
    ("P", "predict this frame with the loaded model"),
    ("Enter", "accept this frame's predicted points as labels, go to the next suggested frame"),
    ("N", "show / hide body-part names"),
]


def shortcuts_html() -> str:
    """The shortcuts as the small table the dock shows."""
    rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in SHORTCUTS)
    return f"<small><table cellspacing='0' cellpadding='1'>{rows}</table></small>"


def bind_keys(layer, widget) -> None:
    """Bind the shortcuts on the pose layer (Tab / Shift+Tab: the widget's event filter)."""
    bindings = {
        "A": widget.cycle_animal,
        "V": widget.mark_invisible,
        "Delete": widget.delete_point,
        "Backspace": widget.delete_point,
        "Control-Z": widget.undo,
        "Right": lambda: widget.step(1),
        "Left": lambda: widget.step(-1),
        "Shift-Right": lambda: widget.jump_labelled(1),
        "Shift-Left": lambda: widget.jump_labelled(-1),
        "S": lambda: widget.jump_suggested(1),
        "Shift-S": lambda: widget.jump_suggested(-1),
        "P": lambda: widget.predict([widget.frame]),
        "Enter": widget.accept_frame,
        "N": lambda: widget.names_check.setChecked(not widget.names_check.isChecked()),
    }
    for key, fn in bindings.items():
        layer.bind_key(key, _key_handler(fn), overwrite=True)


def _key_handler(fn):
    def handler(layer):
        fn()

    return handler
