"""The one way every dock tells a person something went wrong, or needs a look: a notification.

A user's error reads as its own sentence; a bug names its type and asks to be
reported, so the two never look alike. The dock stays usable either way.
"""

from __future__ import annotations

from napari_leap.errors import is_user_error, user_message


def error_message(error: BaseException | str, action: str = "this action") -> str:
    """The one-line message for ``error`` (text is shown as it is) while doing ``action``."""
    if isinstance(error, str):
        return error
    if is_user_error(error):
        return user_message(error)
    return f"{action} failed ({type(error).__name__}: {error}); please report it."


def show_error(error: BaseException | str, action: str = "this action") -> str:
    """Show :func:`error_message` as a napari error notification; returns the message."""
    from napari.utils.notifications import show_error as notify

    message = error_message(error, action)
    notify(message)
    return message


def show_warning(message: str) -> None:
    """Show ``message`` as a napari warning (the model and data disagree, labels left out)."""
    from napari.utils.notifications import show_warning as notify

    notify(message)
