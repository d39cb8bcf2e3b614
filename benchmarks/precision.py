"""bf16-mixed against 32-true for one zoo model: step time, and how far the NA gradient moves.

Under ``bf16-mixed`` the convolutions and linear layers take bfloat16 inputs (8 significant bits)
while the neuron dynamics and NA stay in float32 (``bna_zoo/core/na.py``). Faster matmuls, but
a rounded input current can move a membrane potential across the threshold, and a spike that
flips changes every later step and layer. This script measures both sides on the model's shipped
weights and the data its card was measured on (random weights when nothing is shipped):

- milliseconds per training step (train_step.py's: forward, SUM loss, backward, clip, AdamW,
  clamp), the two precisions alternating so machine noise hits both alike, and their ratio;
- per batch: the loss under each precision, and per parameter tensor the cosine between the
  bf16-mixed and the 32-true gradient. For scale, the same cosine between the 32-true gradients
  of two different batches (what minibatch noise alone moves).

Usage::

    python benchmarks/precision.py                           # fashionmnist-cnn, 2 threads
    python benchmarks/precision.py --model mnist-cnn --batches 2 --steps 4
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # as the CLI runs (see train_step.py)

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from train_step import BATCH, make_step  # noqa: E402

from bna_zoo import BNAModel  # noqa: E402
from bna_zoo.cli.zoo_commands import datamodule_for_entry  # noqa: E402
from bna_zoo.models import get_entry, list_models  # noqa: E402

# glibc keeps freed memory mapped as the CLI does: importing train_step (and bna_zoo.cli) set it
# (bna_zoo/cpu_memory.py; BNA_ZOO_KEEP_MEMORY=0 times without)


def autocast(precision: str, device: str):
    """The context Lightning's ``bf16-mixed`` plugin runs a step in; nothing for ``32-true``."""
    if precision == "32-true":
        return contextlib.nullcontext()
    return torch.autocast(device, dtype=torch.bfloat16)


def gradient(model: BNAModel, x: torch.Tensor, y: torch.Tensor, precision: str,
             device: str) -> tuple[float, list[torch.Tensor]]:
    """Loss and the flattened gradient of every parameter tensor, weights left unchanged."""
    model.zero_grad(set_to_none=True)
    with autocast(precision, device):
        loss = model.loss_fn(model.net(x), y)
    loss.backward()
    return loss.item(), [p.grad.detach().flatten().float().clone() for p in model.parameters()]


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-30))


def time_steps(model: BNAModel, x: torch.Tensor, y: torch.Tensor, steps: int,
               device: str) -> dict[str, float]:
    """Median ms per training step under each precision, alternating; changes the weights.

    The step is train_step.py's (the recipe's: clip and clamp included) on ``model.net``.
    """
    step, _ = make_step(model.zoo_name, "na", len(y), device, inputs=(x, y), net=model.net)
    times: dict[str, list[float]] = {"32-true": [], "bf16-mixed": []}
    for i in range(steps + 1):  # the first round warms up and is not counted
        for precision in times:
            t0 = time.perf_counter()
            with autocast(precision, device):
                step()
            if device == "cuda":
                torch.cuda.synchronize()
            if i:
                times[precision].append(1e3 * (time.perf_counter() - t0))
    return {p: statistics.median(v) for p, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="fashionmnist-cnn", choices=list_models())
    parser.add_argument("--batches", type=int, default=3,
                        help="batches whose gradients are compared")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per precision (median)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    name, batch = args.model, BATCH.get(args.model, 32)
    shipped = get_entry(name).shipped
    model = (BNAModel.from_pretrained(name) if shipped else BNAModel(name=name)).to(args.device)
    model.train()  # the training graph: NA in the backward, dropout on where the net has it
    if get_entry(name).dataset == "MNIST":
        # real digits that travel with the package (no download, whatever the card's data)
        from bna_zoo.data.images import MNISTDataModule

        dm = MNISTDataModule(shipped_digits=True, val_size=0, download=False, batch_size=batch,
                             augment=False)
    else:
        dm = datamodule_for_entry(name, None, batch)
    dm.prepare_data()
    dm.setup("test")
    loader = iter(dm.test_dataloader())
    data = [tuple(t.to(args.device) for t in next(loader)) for _ in range(max(2, args.batches))]
    print(f"{name}: {'shipped' if shipped else 'random (nothing shipped)'} weights, batch {batch},"
          f" {args.device}, {torch.get_num_threads()} threads, load "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print("| batch | loss 32-true | loss bf16-mixed | gradient cosine bf16 vs 32, per tensor |")
    print("|---|---|---|---|")
    reference = []
    for i, (x, y) in enumerate(data[: args.batches]):
        l32, g32 = gradient(model, x, y, "32-true", args.device)
        l16, g16 = gradient(model, x, y, "bf16-mixed", args.device)
        reference.append(g32)
        print(f"| {i} | {l32:.4f} | {l16:.4f} | "
              f"{' '.join(f'{cosine(a, b):.3f}' for a, b in zip(g32, g16, strict=True))} |")
    if len(reference) < 2:
        reference.append(gradient(model, *data[1], "32-true", args.device)[1])
    noise = " ".join(f"{cosine(a, b):.3f}" for a, b in zip(*reference[:2], strict=True))
    print(f"\nminibatch noise, 32-true gradient of batch 0 vs batch 1, per tensor: {noise}")
    ms = time_steps(model, *data[0], args.steps, args.device)
    print(f"\nms per training step: 32-true {ms['32-true']:.1f}, bf16-mixed {ms['bf16-mixed']:.1f}"
          f"; bf16-mixed / 32-true = {ms['bf16-mixed'] / ms['32-true']:.2f}")


if __name__ == "__main__":
    main()
