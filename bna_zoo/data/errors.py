"""The dataset errors, in a module that imports nothing heavy.

``common`` re-exports them; the N-MNIST file code imports them from here so that the emulator's
worker processes start without importing torch.
"""

from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not on disk and could not be downloaded (offline, or ``download=False``)."""


class DatasetFormatError(ValueError):
    """A dataset file is on disk but its content is not what the format promises."""
