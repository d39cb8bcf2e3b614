"""Pictures: one sample going through a network (input frames, spike rasters, output PSC), and
an emulated N-MNIST recording beside its digit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .models import spikes_from_psc

if TYPE_CHECKING:
    from .data.emulate import SaccadeSensor

MAX_RASTER_NEURONS = 400  # rows per raster: more would blur into grey at this figure size


@torch.no_grad()
def plot_sample(model, x: torch.Tensor, label: int | None, out: str | Path,
                class_names: list[str] | None = None) -> Path:
    """Write a PNG with the input, every spiking layer's raster and the output PSC.

    Args:
        model: a :class:`~bna_zoo.bna_model.BNAModel`.
        x: one sample, ``[C, H, W]`` (image) or ``[T, 2, H, W]`` (event frames).
        label: its true class, shown in the title (or ``None``).
        out: PNG path.
        class_names: labels of the output classes.

    Returns:
        The written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net = model.net.eval()
    out_psc, trace = net.forward_with_trace(x.unsqueeze(0).float())
    tau_s = net.neuron.tau_s
    steps = net.n_steps
    layers = list(trace.items())
    n_frames = min(steps, 10) if x.dim() == 4 else 1
    fig = plt.figure(figsize=(max(12, 1.3 * n_frames), 3 + 2.2 * (len(layers) + 1)))
    ratios = [1.2] + [1] * (len(layers) + 1)
    grid = fig.add_gridspec(len(layers) + 2, n_frames, height_ratios=ratios)
    for i in range(n_frames):
        ax = fig.add_subplot(grid[0, i])
        if x.dim() == 4:
            t = i * steps // n_frames
            frame = x[t, 1] - x[t, 0]  # ON minus OFF events
            lim = max(float(frame.abs().max()), 1e-6)
            ax.imshow(frame.numpy(), cmap="bwr", vmin=-lim, vmax=lim)
            ax.set_title(f"t={t}", fontsize=8)
        else:
            ax.imshow(x.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray")
            ax.set_title("input (repeated over T)", fontsize=8)
        ax.axis("off")
    names = class_names or [str(c) for c in range(out_psc.shape[-1])]
    for row, (name, psc) in enumerate(layers, start=1):
        spikes = spikes_from_psc(psc, tau_s)[0].reshape(steps, -1)
        active = spikes.sum(0) > 0
        output = row == len(layers)
        ax = fig.add_subplot(grid[row, :])
        if output:
            # every class its own row, labelled: a silent class is a row without spikes
            idx = torch.arange(spikes.shape[1])
            ax.set_yticks(range(len(names)), names, fontsize=7)
            ax.set_ylim(-0.5, len(names) - 0.5)
        else:
            # hidden layers: only the neurons that fired, renumbered (too many to label)
            idx = torch.nonzero(active).flatten()[:MAX_RASTER_NEURONS]
        tt, nn_ = torch.nonzero(spikes[:, idx], as_tuple=True)
        ax.scatter(tt.numpy(), nn_.numpy(), s=2 if not output else 30, c="k", marker="|")
        rate = float(spikes.mean())
        ax.set_ylabel(f"{name}\n{'class' if output else 'neuron (fired)'}", fontsize=8)
        ax.set_title(f"{name}: {spikes.shape[1]} neurons, {int(active.sum())} fired, "
                     f"rate {rate:.3f} spikes/neuron/step (showing {len(idx)})", fontsize=8)
        ax.set_xlim(-0.5, steps - 0.5)
    ax = fig.add_subplot(grid[-1, :])
    pred = int(out_psc[0].sum(0).argmax())
    for c in range(out_psc.shape[-1]):
        ax.plot(out_psc[0, :, c].numpy(), lw=2.5 if c == pred else 1, label=names[c])
    ax.set_xlabel("time step")
    ax.set_ylabel("output PSC")
    ax.legend(fontsize=7, ncol=min(11, len(names)), loc="upper left")
    truth = f"label {names[label]}, " if label is not None else ""
    fig.suptitle(f"{model.zoo_name}: {truth}predicted {names[pred]}")
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def render_example(path: str, index: int = 0, seed: int = 0, cfg: SaccadeSensor | None = None,
                   n_frames: int = 9) -> np.ndarray:
    """Save a PNG: a shipped digit beside its emulated event frames, raw and stabilised.

    Each frame sums ``duration / n_frames`` of events; red = ON, blue = OFF. The second row
    applies tonic's ``stabilize`` (what ``NMNISTDataModule(stabilize=True)`` does).

    Returns:
        the emulated events.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tonic.datasets.nmnist import stabilize

    from .data.digits import load_digits
    from .data.emulate import SaccadeSensor, emulate_digit

    cfg = cfg or SaccadeSensor()
    images, labels = load_digits()
    events = emulate_digit(images[index], seed, cfg)
    W, H = cfg.sensor_size
    width = cfg.duration_us / n_frames
    fig, axes = plt.subplots(2, n_frames + 1, figsize=(1.3 * (n_frames + 1), 3.6))
    for row, evs in enumerate((events, stabilize(events.copy()))):
        ax = axes[row, 0]
        ax.imshow(images[index], cmap="gray")
        ax.set_title(f"digit {labels[index]}" if row == 0 else "stabilised:", fontsize=8)
        for k in range(n_frames):
            sel = evs[(evs["t"] >= k * width) & (evs["t"] < (k + 1) * width)]
            rgb = np.zeros((H, W, 3))
            np.add.at(rgb, (sel["y"], sel["x"], np.where(sel["p"] == 1, 0, 2)), 1.0)
            rgb = np.clip(rgb / max(1.0, np.percentile(rgb[rgb > 0], 95) if rgb.any() else 1), 0, 1)
            axes[row, k + 1].imshow(rgb, interpolation="nearest")
            axes[row, k + 1].set_title(f"{k * width / 1000:.0f}-{(k + 1) * width / 1000:.0f} ms"
                                       f"\n{len(sel)} ev", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"emulated N-MNIST recording: {len(events)} events, "
                 f"{int(events['p'].sum())} ON / {int((events['p'] == 0).sum())} OFF", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return events
