"""Errors of the weight I/O, each meant to name the problem and the fix."""

from __future__ import annotations


class IntegrityError(ValueError):
    """Weights or config are damaged or disagree: wrong sha256, truncated safetensors, a
    ``config.json`` whose shapes do not fit the weights."""


class HubUnavailableError(OSError):
    """The Hub could not give the files: offline and not cached, unreachable, no such repo,
    revision or file."""
