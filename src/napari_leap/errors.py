"""Which exceptions are the user's to fix (shown as one sentence) and which are bugs."""

from __future__ import annotations

import errno


class LeapError(ValueError):
    """Base of the errors a user can fix: bad input, wrong file, impossible setting."""


def is_user_error(e: BaseException) -> bool:
    """True for errors caused by input (shown as a message), False for bugs (shown in full)."""
    if isinstance(e, (LeapError, FileNotFoundError, IsADirectoryError,
                      NotADirectoryError, PermissionError, IndexError)):
        return True
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT)
