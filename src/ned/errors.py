"""User-facing errors: one clear line, no traceback (the CLI prints ``ned: <message>``)."""

from __future__ import annotations


class NedError(Exception):
    """An error caused by the user's input or environment, reported as one line."""
