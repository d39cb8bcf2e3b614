"""Turn static digit images into N-MNIST-style event recordings, the way N-MNIST was recorded.

N-MNIST (Orchard et al. 2015, Front. Neurosci. 9:437) showed each MNIST digit on an LCD and
moved an ATIS event camera on a pan-tilt unit through three micro-saccades along a triangle, each
about 100 ms, keeping a 34x34 pixel window. This module simulates that chain:

1. **Display**: grey level ``g`` in 0..255 becomes luminance
   ``I = I_black + (I_white - I_black) (g / 255)^gamma`` with ``I_white / I_black =
   contrast_ratio`` (relative units; only ratios matter to a log sensor).
2. **Optics and motion**: the image is blurred by a Gaussian point-spread function and translated
   along the triangle ``(0, 0) -> (w/2, h) -> (w, 0) -> (0, 0)`` at constant speed, one leg per
   saccade; each pixel samples it bilinearly. The apparent motion (+x, +y first) is the one
   tonic's ``stabilize`` undoes, so stabilisation works on emulated data as on real data.
3. **Pixels** (the DVS/ATIS change detector): each pixel remembers a log intensity; when the
   present log intensity exceeds it by the pixel's ON threshold an ON event is emitted (OFF for
   a fall past the OFF threshold), the memory is reset to the present level, and the pixel is
   blind for the refractory period (changes during it are lost, as in the circuit). Thresholds
   vary from pixel to pixel (mismatch); the initial memory sits at a random point of the dead
   band, standing in for the unknown history before the recording.
4. **Noise**: background events, Poisson in time, uniform over pixels, random polarity.

Event times are interpolated to the threshold crossing inside a simulation step and rounded
down to 1 us, the resolution of the format. Not modelled: photoreceptor bandwidth (motion blur at
low light), LCD refresh flicker, latency jitter, pan-tilt acceleration, hot pixels.

Results are written in N-MNIST's ``.bin`` format and ``Train/<label>/<id>.bin`` layout
(``nmnist_io.write_split``), so ``NMNISTDataModule`` and ``tonic.io.read_mnist_file`` read them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import nmnist_io, processes

#: Longest saccade: three of them must fit the 23-bit microsecond timestamps of the format.
MAX_SACCADE_US = nmnist_io.MAX_TIMESTAMP_US // 3

#: From this many images on, ``emulate_dataset`` uses every core by default. A worker process
#: starts in well under a second (Python and numpy; this module imports neither torch nor tonic),
#: what a few dozen recordings take.
PARALLEL_FROM = 256


def _check(value: object, name: str, rule: str, ok: Callable[[float], bool],
           integer: bool = False) -> None:
    """Refuse a parameter that is not a finite (integer) number satisfying ``ok``, naming it."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {rule}, got {value!r} ({type(value).__name__})")
    if not (math.isfinite(value) and ok(value)):
        raise ValueError(f"{name} must be {rule}, got {value!r}")


@dataclass(frozen=True)
class SaccadeSensor:
    """Physical parameters of the emulated recording (defaults give N-MNIST-like samples).

    Attributes:
        sensor_size: ``(W, H)`` of the output window in pixels (N-MNIST: 34x34).
        digit_scale: sensor pixels per image pixel (N-MNIST: the 28 px digit spans ~28 px).
        offset_px: ``(x, y)`` of the image's top-left corner on the sensor at t = 0, in pixels;
            None centres the area swept by the digit over the whole path.
        saccade_us: duration of each of the three saccades, microseconds (tonic's
            stabilisation assumes 105 ms).
        path_width_px: horizontal extent of the triangular path, sensor pixels.
        path_height_px: vertical extent of the triangular path, sensor pixels.
        contrast_ratio: white-to-black luminance ratio seen by the sensor (dimensionless; an
            LCD reaches ~1000 in the dark, far less with room light and lens flare).
        display_gamma: exponent from grey level to luminance (sRGB displays: ~2.2).
        blur_px: standard deviation of the Gaussian point-spread function, sensor pixels.
        threshold_on: mean ON contrast threshold, natural-log intensity units (0.25 is a
            ~28% brightness increase).
        threshold_off: mean OFF contrast threshold, natural-log units.
        threshold_mismatch: pixel-to-pixel standard deviation of both thresholds, natural-log
            units (fixed per pixel within a recording).
        refractory_us: dead time after each event, microseconds; must be >= ``dt_us``.
        noise_rate_hz: background events per pixel per second, ON and OFF together.
        dt_us: simulation step, microseconds (crossing times are interpolated inside it).
    """

    sensor_size: tuple[int, int] = (34, 34)
    digit_scale: float = 1.0
    offset_px: tuple[float, float] | None = None
    saccade_us: int = 105_000
    path_width_px: float = 7.0
    path_height_px: float = 7.0
    contrast_ratio: float = 4.0
    display_gamma: float = 2.2
    blur_px: float = 0.5
    threshold_on: float = 0.25
    threshold_off: float = 0.25
    threshold_mismatch: float = 0.03
    refractory_us: int = 1000
    noise_rate_hz: float = 0.2
    dt_us: int = 500

    def __post_init__(self) -> None:
        # Every field is checked here, where it enters: a NaN or negative value would otherwise
        # surface as a numpy error deep in the simulation, or as silently wrong recordings.
        if not (isinstance(self.sensor_size, (tuple, list)) and len(self.sensor_size) == 2):
            raise ValueError(f"sensor_size must be (W, H) in pixels, got {self.sensor_size!r}")
        for value in self.sensor_size:
            _check(value, "sensor_size entries", "an integer >= 1 (pixels)", lambda v: v >= 1,
                   integer=True)
        _check(self.digit_scale, "digit_scale", "a number > 0 (sensor pixels per image pixel)",
               lambda v: v > 0)
        if self.offset_px is not None:
            if not (isinstance(self.offset_px, (tuple, list)) and len(self.offset_px) == 2):
                raise ValueError(f"offset_px must be None or (x, y) in pixels, got "
                                 f"{self.offset_px!r}")
            for value in self.offset_px:
                _check(value, "offset_px entries", "a finite number (pixels)", lambda v: True)
        _check(self.saccade_us, "saccade_us",
               f"an integer in 1..{MAX_SACCADE_US} (microseconds; three saccades must fit the "
               "format's 23-bit timestamps)", lambda v: 1 <= v <= MAX_SACCADE_US, integer=True)
        for name in ("path_width_px", "path_height_px"):
            _check(getattr(self, name), name, "a number >= 0 (pixels)", lambda v: v >= 0)
        _check(self.contrast_ratio, "contrast_ratio",
               "a number >= 1 (white-to-black luminance ratio)", lambda v: v >= 1)
        _check(self.display_gamma, "display_gamma", "a number > 0", lambda v: v > 0)
        _check(self.blur_px, "blur_px", "a number >= 0 (pixels; 0 = no blur)", lambda v: v >= 0)
        for name in ("threshold_on", "threshold_off"):
            _check(getattr(self, name), name, "a number > 0 (natural-log contrast)",
                   lambda v: v > 0)
        _check(self.threshold_mismatch, "threshold_mismatch",
               "a number >= 0 (a standard deviation, natural-log units)", lambda v: v >= 0)
        _check(self.noise_rate_hz, "noise_rate_hz", "a number >= 0 (events per pixel per second)",
               lambda v: v >= 0)
        _check(self.dt_us, "dt_us",
               f"an integer in 1..saccade_us={self.saccade_us} (microseconds per simulation "
               "step; a larger step would simulate less than one step per saccade)",
               lambda v: 1 <= v <= self.saccade_us, integer=True)
        _check(self.refractory_us, "refractory_us", "an integer (microseconds)", lambda v: True,
               integer=True)
        if self.refractory_us < self.dt_us:
            raise ValueError("refractory_us must be >= dt_us: the simulator emits at most one "
                             f"event per pixel per step; got {self.refractory_us} < {self.dt_us}")

    @property
    def duration_us(self) -> int:
        """Length of one recording: three saccades."""
        return 3 * self.saccade_us

    def path(self, t_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apparent image displacement ``(dx, dy)`` in sensor pixels at times ``t_us``."""
        w, h = self.path_width_px, self.path_height_px
        corners = np.array([[0.0, 0.0], [w / 2, h], [w, 0.0], [0.0, 0.0]])
        s = np.clip(np.asarray(t_us, dtype=np.float64) / self.saccade_us, 0.0, 3.0)
        leg = np.minimum(s.astype(int), 2)
        frac = (s - leg)[..., None]
        xy = corners[leg] * (1 - frac) + corners[leg + 1] * frac
        return xy[..., 0], xy[..., 1]


def _scene(images: np.ndarray, cfg: SaccadeSensor, pad: int) -> np.ndarray:
    """Luminance of the displayed, blurred images (white = 1), padded with display black.

    Shape: ``[B, 28, 28]`` uint8 -> ``[B, 28 + 2 pad, 28 + 2 pad]`` float32.
    """
    lum = (images.astype(np.float64) / 255.0) ** cfg.display_gamma
    lum = 1.0 / cfg.contrast_ratio + (1.0 - 1.0 / cfg.contrast_ratio) * lum  # white = 1
    lum = np.pad(lum, ((0, 0), (pad, pad), (pad, pad)), constant_values=1.0 / cfg.contrast_ratio)
    sigma = cfg.blur_px / cfg.digit_scale  # in image pixels
    if sigma > 0:  # separable Gaussian blur of linear luminance (light adds linearly)
        r = int(np.ceil(3 * sigma))
        k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
        k /= k.sum()
        for axis in (1, 2):
            src = np.pad(lum, [(0, 0)] + [(r, r) if a == axis else (0, 0) for a in (1, 2)],
                         mode="edge")
            lum = sum(k[i] * np.take(src, np.arange(i, i + lum.shape[axis]), axis=axis)
                      for i in range(2 * r + 1))
    return lum.astype(np.float32)


def _check_cfg(cfg: object) -> SaccadeSensor:
    if cfg is None:
        return SaccadeSensor()
    if not isinstance(cfg, SaccadeSensor):
        raise TypeError(f"cfg must be a SaccadeSensor or None, got {type(cfg).__name__}; build one "
                        "with SaccadeSensor(**parameters)")
    return cfg


def _check_images(images: object) -> np.ndarray:
    """``images`` as a uint8 ``[B, h, w]`` array with ``h, w >= 1``."""
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"expected uint8 grey images [B, h, w] (0 = display black), got {images.dtype} "
            f"{list(images.shape)}; a single image needs images[None], float images in [0, 1] "
            "(img * 255).round().astype(np.uint8)"
        )
    if min(images.shape[1:]) < 1:
        raise ValueError(f"images must be at least 1x1 pixels, got shape {list(images.shape)}")
    return images


def _pixel_state(rngs: list[np.random.Generator], cfg: SaccadeSensor
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel ON and OFF thresholds (with mismatch) and the initial memory phase, each flat
    ``[B * H * W]``, drawn from each sample's own stream (all ON, then all OFF, then phases)."""
    W, H = cfg.sensor_size
    con = np.stack([np.maximum(r.normal(cfg.threshold_on, cfg.threshold_mismatch, (H, W)), 0.01)
                    for r in rngs]).astype(np.float32).ravel()
    coff = np.stack([np.maximum(r.normal(cfg.threshold_off, cfg.threshold_mismatch, (H, W)),
                                0.01) for r in rngs]).astype(np.float32).ravel()
    phase = np.stack([r.random((H, W), dtype=np.float32) for r in rngs]).ravel()
    return con, coff, phase


def _sensor_sampler(scene: np.ndarray, cfg: SaccadeSensor, offset: tuple[float, float],
                    pad: int) -> Callable[[float], np.ndarray]:
    """The log intensity the sensor sees at a time: ``sample(t_us)`` -> flat ``[B * H * W]``
    float32, bilinear in the padded scene ``[B, h + 2 pad, w + 2 pad]`` along the saccade path,
    with the digit's top-left corner at ``offset`` sensor pixels."""
    n, sw = scene.shape[0], scene.shape[2]
    flat = scene.reshape(n, -1)
    W, H = cfg.sensor_size
    ox, oy = offset

    def sample(t_us: float) -> np.ndarray:
        dx, dy = cfg.path(np.asarray(t_us))
        gx = (np.arange(W) + 0.5 - ox - dx) / cfg.digit_scale - 0.5 + pad
        gy = (np.arange(H) + 0.5 - oy - dy) / cfg.digit_scale - 0.5 + pad
        x0, y0 = np.floor(gx).astype(int), np.floor(gy).astype(int)
        fx = (gx - x0).astype(np.float32)
        fy = (gy - y0).astype(np.float32)[:, None]
        if (np.all(np.diff(x0) == 1) and np.all(np.diff(y0) == 1) and x0[0] >= 0
                and y0[0] >= 0):
            # at digit_scale 1 (N-MNIST's) the window is a plain rectangle of the scene: four
            # slices hold the same values as the four gathers below, without copying them
            ya, xa = int(y0[0]), int(x0[0])
            v = [scene[:, ya + dy:ya + dy + H, xa + dx:xa + dx + W]
                 for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1))]
        else:
            i00 = (y0[:, None] * sw + x0[None, :]).ravel()
            v = [flat[:, i00 + o].reshape(n, H, W) for o in (0, 1, sw, sw + 1)]
        # interpolate light, then take the log: top = v0 + (v1 - v0) fx, bottom likewise, out =
        # log(top + (bottom - top) fy), computed in place in two fresh arrays (IEEE addition
        # and multiplication commute, so the values are those of the written-out expression)
        top = np.subtract(v[1], v[0])
        top *= fx
        top += v[0]
        out = np.subtract(v[3], v[2])
        out *= fx
        out += v[2]
        out -= top
        out *= fy
        out += top
        return np.log(out, out=out).ravel()

    return sample


def emulate_batch(images: np.ndarray, seeds: list, cfg: SaccadeSensor | None = None
                  ) -> list[np.ndarray]:
    """Emulate one recording per image.

    Args:
        images: uint8 ``[B, h, w]`` grey images, 0 = display black (MNIST polarity).
        seeds: one seed per image (anything ``np.random.default_rng`` takes); a recording
            depends only on its image, its seed and ``cfg``, not on the batch it is in.
        cfg: sensor and scene parameters; None for the defaults.

    Returns:
        ``B`` structured arrays ``[N_i]`` (``nmnist_io.EVENT_DTYPE``: x, y, t us, p 1 = ON),
        sorted by time.
    """
    cfg = _check_cfg(cfg)
    images = _check_images(images)
    n, ih, iw = images.shape
    W, H = cfg.sensor_size
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__") or len(seeds) != n:
        count = len(seeds) if hasattr(seeds, "__len__") else type(seeds).__name__
        raise ValueError(f"seeds must hold one seed per image: {n} images but {count} seeds")
    if n == 0:  # an empty batch (e.g. the tail of a split) records nothing
        return []
    rngs = [np.random.default_rng(s) for s in seeds]
    ox, oy = cfg.offset_px or ((W - iw * cfg.digit_scale - cfg.path_width_px) / 2,
                               (H - ih * cfg.digit_scale - cfg.path_height_px) / 2)
    pad = int(np.ceil(max(W, H) / cfg.digit_scale + max(cfg.path_width_px, cfg.path_height_px)
                      + abs(ox) + abs(oy))) + 2
    scene = _scene(images, cfg, pad)
    con, coff, phase = _pixel_state(rngs, cfg)
    sample = _sensor_sampler(scene, cfg, (ox, oy), pad)

    # State per pixel (flat over batch, rows, columns): remembered log intensity, and the time
    # its refractory period ends. The memory starts inside the dead band: no event at t = 0.
    prev = sample(0.0)
    ref = prev - con + phase * (con + coff)
    ready_at = np.zeros(prev.shape)
    hits, times, polarity = [], [], []
    for k in range(1, cfg.duration_us // cfg.dt_us + 1):
        t0, t1 = (k - 1) * cfg.dt_us, k * cfg.dt_us
        now = sample(t1)
        diff = now - ref
        idx = np.flatnonzero(((diff >= con) | (diff <= -coff)) & (ready_at <= t1))
        if idx.size:
            on = diff[idx] >= con[idx]
            level = np.where(on, ref[idx] + con[idx], ref[idx] - coff[idx])  # level crossed
            change = now[idx] - prev[idx]
            frac = np.divide(level - prev[idx], change, out=np.ones_like(change),
                             where=change != 0)
            te = np.maximum(t0 + np.clip(frac, 0.0, 1.0) * cfg.dt_us, ready_at[idx])
            hits.append(idx)
            times.append(np.floor(te).astype(np.int64))
            polarity.append(on)
            ready_at[idx] = te + cfg.refractory_us
            ref[idx] = level
        np.copyto(ref, now, where=ready_at > t1)  # held in reset: changes while blind are lost
        prev = now
    flat_idx = np.concatenate(hits) if hits else np.zeros(0, np.int64)
    b, y, x = np.unravel_index(flat_idx, (n, H, W))
    cols = [b, x, y, np.concatenate(times or [np.zeros(0, np.int64)]),
            np.concatenate(polarity or [np.zeros(0, bool)])]
    return [_with_noise(cols, i, rngs[i], cfg) for i in range(n)]


def _with_noise(cols: list[np.ndarray], i: int, rng: np.random.Generator, cfg: SaccadeSensor
                ) -> np.ndarray:
    """Sample ``i``'s signal events plus background noise, as a time-sorted structured array."""
    b, x, y, t, p = cols
    mine = b == i
    W, H = cfg.sensor_size
    n_noise = rng.poisson(cfg.noise_rate_hz * W * H * cfg.duration_us * 1e-6)
    events = np.empty(int(mine.sum()) + n_noise, dtype=nmnist_io.EVENT_DTYPE)
    events["x"] = np.concatenate([x[mine], rng.integers(0, W, n_noise)])
    events["y"] = np.concatenate([y[mine], rng.integers(0, H, n_noise)])
    events["t"] = np.concatenate([t[mine], rng.integers(0, cfg.duration_us, n_noise)])
    events["p"] = np.concatenate([p[mine].astype(int), rng.integers(0, 2, n_noise)])
    return events[np.argsort(events["t"], kind="stable")]


def emulate_digit(image: np.ndarray, seed: int = 0, cfg: SaccadeSensor | None = None
                  ) -> np.ndarray:
    """One recording of one uint8 image ``[h, w]``; see ``emulate_batch``."""
    return emulate_batch(np.asarray(image)[None], [seed], cfg)[0]


def _record_batch(images: np.ndarray, seeds: list, cfg: SaccadeSensor
                  ) -> tuple[list[int], list[bytes]]:
    """One batch of ``emulate_dataset`` (run in a worker process where there are several): the
    positions of recordings with no events if any, else every recording's file bytes."""
    recs = emulate_batch(images, seeds, cfg)
    empty = [j for j, rec in enumerate(recs) if len(rec) == 0]
    if empty:
        return empty, []
    return [], nmnist_io.encode_recordings(recs, what="recording of image")


def emulate_dataset(images: np.ndarray, labels: np.ndarray, out_dir: str, split: str = "train",
                    seed: int = 0, cfg: SaccadeSensor | None = None, batch_size: int = 64,
                    first_id: int = 0, workers: int | None = None) -> list[Path]:
    """Emulate a set of images and write them as an N-MNIST split.

    Args:
        images: uint8 ``[N, 28, 28]``.
        labels: ``[N]`` integer labels (the digit folder names).
        out_dir: root; files go to ``<out_dir>/Train/<label>/<id:05d>.bin`` (``Test`` for
            ``split="test"``), ids counting from ``first_id`` in input order.
        split: ``"train"`` or ``"test"``.
        seed: recording ``i`` uses the seed ``(seed, split, first_id + i)``, so results do not
            depend on ``batch_size`` and the two splits never share noise.
        cfg: sensor and scene parameters.
        batch_size: images simulated together (memory ~ 50 kB per image).
        first_id: id of the first file; files already in the split folder are kept unless a
            new file has the same name (see ``nmnist_io.staged_split``).
        workers: processes simulating batches side by side (the files are the same bit for bit
            for any number); None: every usable CPU from ``PARALLEL_FROM`` images on, else 1.

    Returns:
        the written file paths, in input order.

    Raises:
        ValueError, TypeError: a bad argument (labels not one digit 0..9 per image, a sensor
            larger than 34x34, ...) before anything is simulated, or an image that gave no
            events. The split folder appears only once every file is written.
    """
    # Everything is checked before the first recording is simulated, and the split is written
    # into a staging folder renamed into place at the end (nmnist_io.staged_split): a failure
    # half-way leaves no partial split for the DataModule to read as complete.
    if split not in nmnist_io.SPLIT_FOLDERS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images = _check_images(images)
    if len(images) == 0:
        raise ValueError("no images to emulate: an empty split would read as 'not found'")
    label_list = nmnist_io.check_labels(labels, len(images))
    _check(seed, "seed", "an integer >= 0", lambda v: v >= 0, integer=True)
    cfg = _check_cfg(cfg)
    W, H = cfg.sensor_size
    sensor_w, sensor_h = nmnist_io.SENSOR_SIZE[:2]
    if W > sensor_w or H > sensor_h:
        raise ValueError(
            f"cfg.sensor_size {tuple(cfg.sensor_size)} exceeds N-MNIST's {sensor_w}x{sensor_h} "
            "sensor: NMNISTDataModule would refuse the files; emulate at most 34x34"
        )
    _check(batch_size, "batch_size", "an integer >= 1 (images simulated together)",
           lambda v: v >= 1, integer=True)
    first_id = nmnist_io.check_first_id(first_id)
    split_id = list(nmnist_io.SPLIT_FOLDERS).index(split)
    if workers is None:
        workers = processes.usable_cpus() if len(images) >= PARALLEL_FROM else 1
    _check(workers, "workers", "an integer >= 1 (processes side by side; None: every CPU)",
           lambda v: v >= 1, integer=True)
    starts = range(0, len(images), batch_size)
    calls = [(images[a:a + batch_size],
              [[seed, split_id, i] for i in range(first_id + a,
                                                  first_id + min(a + batch_size, len(images)))],
              cfg) for a in starts]
    written: list[Path] = []
    with nmnist_io.staged_split(out_dir, split) as staging:
        for a, (empty, encoded) in zip(starts, processes.ordered_map(_record_batch, calls,
                                                                     workers), strict=True):
            if empty:
                raise ValueError(
                    f"image {a + empty[0]} ({len(empty)} in this batch) gave no events (a blank "
                    "image, contrast_ratio near 1 or noise off): N-MNIST recordings are never "
                    "empty and readers refuse 0-byte files; drop such images or raise "
                    "noise_rate_hz"
                )
            written += nmnist_io.write_recordings(staging, encoded, label_list[a:a + batch_size],
                                                  first_id + a)
        final = Path(out_dir) / nmnist_io.SPLIT_FOLDERS[split]
        paths = [final / p.relative_to(staging) for p in written]
    return paths


def shipped_digit_splits(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The shipped digits split as :func:`emulate_digits` emulates them: train images, labels,
    test images, labels (8,000 / 2,000, stratified, seeded; ``digits.split_digits``)."""
    from .digits import load_digits, split_digits

    return split_digits(*load_digits(), 0.2, seed)


def emulate_digits(out_dir: str = "data/emulated_nmnist", n_train: int = 8000, n_test: int = 2000,
                   seed: int = 0, cfg: SaccadeSensor | None = None) -> None:
    """Emulate the shipped MNIST digits (``digits.load_digits``) into an N-MNIST-like dataset.

    The 10,000 digits are split 8,000 / 2,000 (stratified, seeded; ``digits.split_digits``) and
    the first ``n_train`` / ``n_test`` of each shuffled side are emulated (0 skips a split).
    Command line: ``python -m bna_zoo.data.emulate --out_dir data/emu --n_train 800 --n_test 200``
    (``--cfg.contrast_ratio 8`` etc. set sensor parameters).
    """
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        _check(n, name, "an integer >= 0 (0 skips the split)", lambda v: v >= 0, integer=True)
    if n_train + n_test == 0:
        raise ValueError("n_train and n_test are both 0: nothing to emulate")
    tr_x, tr_y, te_x, te_y = shipped_digit_splits(seed)
    if n_train > len(tr_x) or n_test > len(te_x):
        raise ValueError(f"at most {len(tr_x)} train and {len(te_x)} test digits are shipped, "
                         f"got n_train={n_train}, n_test={n_test}")
    if n_train:
        emulate_dataset(tr_x[:n_train], tr_y[:n_train], out_dir, "train", seed, cfg)
    if n_test:
        emulate_dataset(te_x[:n_test], te_y[:n_test], out_dir, "test", seed, cfg)


def emulate_mnist(mnist_dir: str = "data", out_dir: str = "data/emulated_nmnist_full",
                  seed: int = 0, cfg: SaccadeSensor | None = None,
                  n_train: int | None = None, n_test: int | None = None,
                  workers: int | None = None) -> dict[str, int]:
    """Emulate MNIST's own splits, as N-MNIST was recorded: every training and test image.

    Reads the IDX files of ``<mnist_dir>/MNIST/raw`` (``bna-zoo prepare mnist`` or torchvision's
    download) and writes recording ``i`` of a split as file id ``i`` (MNIST's order), so the
    last 10,000 training ids are MNIST's validation digits (``NMNISTDataModule(val_size=10000)``).

    Args:
        mnist_dir: the ``data_dir`` of ``MNISTDataModule``.
        out_dir: the ``data_dir`` for ``NMNISTDataModule``.
        seed: seed of every recording (see :func:`emulate_dataset`).
        cfg: sensor and scene parameters.
        n_train: only the first ``n_train`` training images (None: all 60,000; 0 skips).
        n_test: only the first ``n_test`` test images (None: all 10,000).
        workers: processes side by side (see :func:`emulate_dataset`; None: every usable CPU).

    Returns:
        recordings written per split.
    """
    from .image_files import read_idx_split

    folder = Path(mnist_dir) / "MNIST" / "raw"
    counts = {}
    for split, n in (("train", n_train), ("test", n_test)):
        try:
            images, labels = read_idx_split(folder, split)
        except FileNotFoundError as err:
            hint = f"run `bna-zoo prepare mnist --data-dir {mnist_dir}` first"
            raise FileNotFoundError(f"MNIST's {split} files are not in {folder}: {hint}") from err
        images, labels = images[:n], labels[:n]
        if len(images):  # n = 0 skips the split
            emulate_dataset(images, labels, out_dir, split, seed, cfg, workers=workers)
        counts[split] = len(images)
    return counts


def main() -> None:
    from jsonargparse import CLI

    CLI(emulate_digits)


if __name__ == "__main__":
    main()
