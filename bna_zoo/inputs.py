"""The input contract of :meth:`BNAModel.predict`: raw data in, the model's own tensor out.

Image models take, per sample ``[C, H, W]`` (or a batch ``[B, C, H, W]``):

- **uint8 pixels** 0..255, **integer tensors/arrays** 0..255, and **PIL images**: normalised
  with the model's own statistics, ``(pixel / 255 - mean) / std``;
- **floats in [0, 1]** (what ``torchvision.transforms.ToTensor`` gives): normalised the same way;
- **already normalised floats**: passed through; they must lie in the range normalisation
  produces, ``[-mean/std, (1 - mean)/std]``. Floats outside both ranges (e.g. images scaled to
  ``[-1, 1]`` with other statistics) are refused, naming the expected ranges.

``input_range`` (``"0-255"``, ``"0-1"``, ``"normalised"``) states the range instead of letting it
be inferred. A batch whose pixels are mostly bright where the training data is dark (inverted
MNIST-style digits) draws a warning. Event models take frames ``[T, 2, H, W]`` (float or
integer counts) or raw recordings (numpy structured arrays with ``x, y, t, p``), binned as in
training.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from .models.zoo import InputSpec

RANGES = ("0-255", "0-1", "normalised")


def _is_pil(x: Any) -> bool:
    return type(x).__module__.startswith("PIL.")


def _to_tensor(x: Any) -> torch.Tensor:
    if _is_pil(x):
        x = np.asarray(x)
        x = x[None] if x.ndim == 2 else np.moveaxis(x, -1, 0)  # HW(C) -> CHW
    elif isinstance(x, (list, tuple)) and x and _is_pil(x[0]):
        return torch.stack([_to_tensor(i) for i in x])
    if isinstance(x, np.ndarray) and x.dtype.kind in "ui" and x.dtype != np.uint8:
        x = x.astype(np.int64)
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        # a PIL image's or a memory-mapped file's array: torch would share read-only memory and
        # warn the user about it on every call; a copy is as cheap as the batch it becomes
        x = x.copy()
    try:
        return torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"cannot read {type(x).__name__} as an image batch: give a torch "
                        f"tensor, a numpy array or PIL images ({err})") from None


def image_tensor(x: Any, spec: InputSpec, input_range: str | None = None) -> torch.Tensor:
    """Raw images -> the normalised float32 tensor the model takes (see the module docstring).

    Raises:
        ValueError: values outside every accepted range, or an unknown ``input_range``.
        TypeError: data that is not an image.
    """
    if input_range is not None and input_range not in RANGES:
        raise ValueError(f"input_range must be one of {RANGES} or None, got {input_range!r}")
    x = _to_tensor(x)
    c, h, w = spec.shape
    if c == 1 and x.dim() == 3 and x.shape[0] != 1 and tuple(x.shape[1:]) == (h, w):
        # a batch of grey images as datasets hold them, [B, H, W] (e.g. MNIST(...).data[:500]),
        # not one image of B channels
        x = x.unsqueeze(1)
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(-1, 1, 1)
    if x.dtype == torch.bool or not (x.is_floating_point() or x.dtype in _INTS):
        raise TypeError(f"images must be numbers, got a {x.dtype} tensor")
    if x.numel() == 0:
        raise ValueError(f"empty input: shape {list(x.shape)}")
    lo, hi = float(x.min()), float(x.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("images contain NaN or inf values")
    norm_lo = float((-mean / std).min())
    norm_hi = float(((1 - mean) / std).max())
    if input_range is None:
        if not x.is_floating_point():
            input_range = "0-255"
        elif lo >= 0 and hi <= 1:
            input_range = "0-1"
        elif lo >= norm_lo - 1e-3 and hi <= norm_hi + 1e-3:
            input_range = "normalised"
        else:
            raise ValueError(
                f"float images in [{lo:.3g}, {hi:.3g}] fit neither raw pixels in [0, 1] nor this "
                f"model's normalisation (mean {spec.mean}, std {spec.std}: range "
                f"[{norm_lo:.3g}, {norm_hi:.3g}]); pass uint8 pixels, floats in [0, 1], or state "
                f"input_range="
            )
    if input_range == "0-255":
        if lo < 0 or hi > 255:
            raise ValueError(f"pixels in [{lo:g}, {hi:g}], expected 0..255")
        unit = x.float() / 255
    elif input_range == "0-1":
        if lo < 0 or hi > 1:
            raise ValueError(f"pixels in [{lo:.3g}, {hi:.3g}], expected [0, 1]")
        unit = x.float()
    else:
        return x.float()
    _warn_if_inverted(unit, spec)
    return (unit - mean) / std


_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _warn_if_inverted(unit: torch.Tensor, spec: InputSpec) -> None:
    # MNIST-style data (one channel, dark background, mean ~0.13-0.29): a batch that is mostly
    # bright was very likely drawn dark-on-light
    if spec.mean is not None and len(spec.mean) == 1 and spec.mean[0] < 0.35:
        brightness = float(unit.mean())
        if brightness > 0.6:
            warnings.warn(
                f"the images are mostly bright (mean {brightness:.2f}) where this model's "
                f"training data is dark-background (mean {spec.mean[0]:g}): inverted images? "
                f"Use 1 - x (or 255 - x) if the digits are drawn dark on light.",
                stacklevel=3,
            )


def event_tensor(x: Any, spec: InputSpec) -> torch.Tensor:
    """Event recordings or frames -> float32 frames ``[B, T, C, H, W]`` (or ``[T, C, H, W]``)."""
    if isinstance(x, np.ndarray) and x.dtype.names:
        x = [x]
    if isinstance(x, (list, tuple)) and x and all(
        isinstance(e, np.ndarray) and e.dtype.names for e in x
    ):
        from .data.frames import events_to_frames

        return torch.from_numpy(np.stack([events_to_frames(e, **spec.frames) for e in x]))
    x = _to_tensor(x)
    if not (x.is_floating_point() or x.dtype in _INTS):
        raise TypeError(f"event frames must be numbers, got a {x.dtype} tensor")
    return x.float()
