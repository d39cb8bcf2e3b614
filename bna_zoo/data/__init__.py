"""LightningDataModules over torchvision images and tonic events (where events become tensors).

Batches are ``(x, y)`` with ``y`` a ``[B]`` long tensor and ``x``:

- images: ``[B, C, H, W]`` float, normalised, static (the model repeats it over T and encodes);
- events: ``[B, T, 2, H, W]`` float frames, batch first, time second.
"""

from __future__ import annotations

import importlib

#: each DataModule's module in this package (also how recipes name them: bna_zoo.models.render)
MODULES = {
    "MNISTDataModule": "images",
    "FashionMNISTDataModule": "images",
    "CIFAR10DataModule": "images",
    "NMNISTDataModule": "events",
    "DVSGestureDataModule": "events",
    "ImageFolderDataModule": "own",
    "ArrayDataModule": "own",
}

__all__ = sorted(MODULES)


def __getattr__(name: str):
    # Lazy: importing bna_zoo.data must not pull torchvision and tonic until a module is used.
    if name in MODULES:
        return getattr(importlib.import_module(f".{MODULES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
