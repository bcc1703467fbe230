"""User-facing errors: raised for bad input, shown by the CLI as one clear message, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input or environment that they can fix; the message names the fix."""

    exit_code = 2
    label: str | None = "error"  # the word printed before the message (None: the message alone)


class MissingDataError(UserError):
    """A dataset (or file it needs) is not where we looked; the message says where and how to get it."""

    exit_code = 3


class WriteError(UserError):
    """A file could not be written (unwritable folder, read-only or full disk); the message names the path."""
