"""Which exceptions are the user's to fix (shown as one sentence) and which are bugs."""

from __future__ import annotations

import errno


class LeapError(ValueError):
    """Base of the errors a user can fix: bad input, wrong file, impossible setting."""


def is_user_error(e: BaseException) -> bool:
    """True for errors caused by input (shown as a message), False for bugs (shown in full)."""
    if isinstance(
        e,
        (
            LeapError,
            FileNotFoundError,
            IsADirectoryError,
            NotADirectoryError,
            PermissionError,
            IndexError,
        ),
    ):
        return True
    return isinstance(e, OSError) and e.errno in (
        errno.ENOSPC,
        errno.EROFS,
        errno.EACCES,
        errno.EDQUOT,
    )


def user_message(e: BaseException) -> str:
    """One line for a user error: what went wrong and what to do.

    A full or read-only disk reaches us as a bare ``OSError`` ("[Errno 28] No
    space left on device"); say which file and what to do instead.
    """
    if isinstance(e, OSError) and not isinstance(e, LeapError):
        name = f" {e.filename}" if e.filename else ""
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"the disk is full (no space left{' for' + name if name else ''}); free some space or write to another disk."
        if e.errno == errno.EROFS:
            return (
                f"the disk is read-only (cannot write{name}); choose a folder on a writable disk."
            )
        if e.errno == errno.EACCES:
            return f"permission denied{' for' + name if name else ''}; choose a folder you can write to."
    text = " ".join(str(e).split())
    return text or type(e).__name__
