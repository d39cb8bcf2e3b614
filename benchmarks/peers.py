"""Peer columns: our training step and inference against plain PyTorch, snnTorch and SpikingJelly.

Every implementation runs **the same network with the same weights and inputs**: the weights are
copied from one zoo network (the zoo's shipped weights where it has them, so that every layer
fires as in use; a seeded init otherwise or with ``--weights init``), the inputs are one seeded
batch (standard-normal images; binary event frames with 20% of the pixels on). The
implementations:

- **bna_zoo NA** and **bna_zoo surrogate**: :func:`bna_zoo.models.create_model` with
  ``gradient="na"`` (layer rescale on, the recipe's) and ``"surrogate"``; time-major layers over
  the fused kernels.
- the four peers, **plain step loop**, **plain layer loop**, **snnTorch** and **SpikingJelly**,
  built in ``peer_nets.py`` (its docstring says how each one is written and why its
  arithmetic matches ours).

**Equality checks** (eval mode, so dropout is off; float32) compare every spiking layer's PSC
``[B, T, ...]`` with ours, bit for bit; where an implementation cannot match our arithmetic it
reports the largest deviation and the share of differing spikes instead.

A **gradient check** compares each surrogate peer's weight gradients (one backward of the loss in
eval mode) with our surrogate's: per weight tensor, the largest difference relative to its largest
gradient (our NA gradient is a different gradient and is not compared).

**Timing**: a full training step (forward, ``bna_zoo.nn.build_loss`` on the output PSC, backward,
gradient clip 1.0, AdamW, weight clamp ±4: the recipe's step, as in ``train_step.py``) for each
implementation, and inference throughput (``torch.no_grad``, eval mode). Rounds run every
implementation once, the order rotating from round to round, so machine noise hits all alike; the
median is reported. The machine load (``os.getloadavg``) is printed at start and end: timings taken
on a loaded machine are not comparable.

**FLOP bound** (``flops.py``; ``--no-bound`` leaves it out): the multiply-adds of our network's
conv and linear layers (``GMAC/step`` forward and backward, ``GMAC/batch`` forward only) and the
time the conv/matmul library alone takes for those exact ops on this machine, in this run
(``bound ms``); the training table gives our NA and surrogate steps as multiples of the training
bound, the inference table our forward as a multiple of the forward bound.

Usage::

    python benchmarks/peers.py                                   # all six nets, 5 rounds
    python benchmarks/peers.py --models cifar10-cnn --steps 3    # ~6 s steps: few rounds do
    python benchmarks/peers.py --models nmnist-cnn --steps 10 --threads 2 --warmup 2
    python benchmarks/peers.py --smoke                           # tiny nets, 1 round (tests)
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Time under the allocator setting the zoo's CLI runs with (bna_zoo/cli): transparent huge
# pages for torch's large CPU tensors. torch reads it once, at import, so it is set here;
# THP_MEM_ALLOC_ENABLE=0 in the environment times without (every implementation alike).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import torch  # noqa: E402
from torch import nn

from bna_zoo.models import SpikingNetwork, create_model, get_entry, spikes_from_psc
from bna_zoo.models.zoo import NET_FIELDS
from bna_zoo.nn import build_loss

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as a script or by runpy
from flops import Bound, fmt, measure_bound, trace_layers  # noqa: E402
from peer_nets import (  # noqa: E402
    LayerLoopNet,
    PeerNet,
    SnnTorchNet,
    SpikingJellyNet,
    StepLoopNet,
)

from bna_zoo.cpu_memory import keep_freed_memory  # noqa: E402

# glibc keeps freed memory mapped, as the CLI sets it (bna_zoo/cpu_memory.py);
# BNA_ZOO_KEEP_MEMORY=0 in the environment times without (every implementation alike)
KEPT_MEMORY = keep_freed_memory()

#: The registry nets timed by default and their batch sizes (those of train_step.py).
BATCH = {"nmnist-cnn": 32, "fashionmnist-mlp": 64, "fashionmnist-cnn": 50, "mnist-cnn": 64,
         "dvsgesture-cnn": 16, "cifar10-cnn": 50}
#: The recipe's step (``bna_zoo.BNAModel``, docs/na.md §8), for every implementation alike.
LR, GRAD_CLIP, WEIGHT_CLAMP = 5e-4, 1.0, 4.0
#: Implementation labels, in table order.
OURS_NA, OURS_SG = "bna_zoo NA", "bna_zoo surrogate"
PLAIN_STEP, PLAIN_LAYER = "plain step loop", "plain layer loop"
SNNTORCH, SPIKINGJELLY = "snnTorch", "SpikingJelly"
PEERS = (PLAIN_STEP, PLAIN_LAYER, SNNTORCH, SPIKINGJELLY)
#: ``--skip`` names of the peers.
SKIP = {"plain-step": PLAIN_STEP, "plain-layer": PLAIN_LAYER, "snntorch": SNNTORCH,
        "spikingjelly": SPIKINGJELLY}
#: Share of event-frame pixels on in the synthetic event input. At 5% (train_step.py's density)
#: a freshly initialised nmnist-cnn stays silent in every layer and the shipped one nearly so,
#: which would make the equality check vacuous; at 20% the shipped nmnist-cnn fires at about the
#: rate measured on emulated N-MNIST digits (a few percent per neuron and step).
EVENT_RATE = 0.2
#: Gradient agreement required once the forward is identical. The same sums taken in another
#: order (30 per-step weight gradients added up, against one sum over T*B) differ by up to 2e-4
#: of a weight tensor's largest gradient in float32 (nmnist-cnn's step loop; 3e-14 in float64).
GRAD_RTOL = 1e-3


# ---------------------------------------------------------------------------------- the nets
@dataclass(frozen=True)
class BenchNet:
    """A network to benchmark: a zoo name (and, for nets outside the zoo, every net setting).

    Args:
        name: zoo name, or a name of :data:`SMOKE_NETS`.
        batch: batch size.
        loss, loss_args: the loss (:func:`bna_zoo.nn.build_loss`).
        overrides: every field of :data:`bna_zoo.models.zoo.NET_FIELDS` for a net outside the
            zoo; empty for a zoo net.
    """

    name: str
    batch: int
    loss: str
    loss_args: dict[str, float]
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_zoo(cls, name: str, batch: int | None = None) -> BenchNet:
        """A zoo net at ``batch`` (default: :data:`BATCH`, else its recipe's batch size)."""
        entry = get_entry(name)
        size = batch or BATCH.get(name, entry.recipe.batch_size)
        return cls(name, size, entry.loss, dict(entry.loss_args))

    def build(self, gradient: str) -> SpikingNetwork:
        """The network, freshly initialised from the global RNG, with ``gradient``."""
        return create_model(self.name, gradient=gradient, rescale=gradient == "na",
                            **self.overrides)


def _smoke_net(name: str, batch: int, loss: str, loss_args: dict, **net: Any) -> BenchNet:
    net = {**net, "loss": loss, "loss_args": loss_args}  # a NetConfig holds the loss too
    assert set(net) == set(NET_FIELDS), sorted(set(NET_FIELDS) ^ set(net))
    return BenchNet(name, batch, loss, loss_args, net)


#: Tiny nets for ``--smoke``: every layer kind (padded conv, sum pool, dropout, linear), both
#: encoders, a power-of-two tau_m (SpikingJelly rounds like us) and tau_m = 5 (it does not). The
#: init scales make every layer fire at the default event density.
SMOKE_NETS = {
    "smoke-events": _smoke_net(
        "smoke-events", 4, "count", {"desired": 3.0, "undesired": 0.5},
        arch="6C3p1-P2-D0.2-8C3-P2-10", input_shape=(2, 12, 12), n_steps=6, tau_m=8.0,
        tau_s=4.0, theta=1.0, conv_weight_scale=5.0, linear_weight_scale=3.0,
        dropout_mode="neuron", input_kind="events",
    ),
    "smoke-image": _smoke_net(
        "smoke-image", 4, "kernel", {},
        arch="32-D0.2-10", input_shape=(1, 8, 8), n_steps=5, tau_m=5.0, tau_s=3.0, theta=1.0,
        conv_weight_scale=1.0, linear_weight_scale=1.0, dropout_mode="neuron",
        input_kind="image",
    ),
}


def make_batch(
    net: SpikingNetwork, batch: int, seed: int = 0, device: str = "cpu",
    event_rate: float = EVENT_RATE,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded input batch and labels: binary event frames with ``event_rate`` of the pixels on
    for event nets, standard-normal static images otherwise (as ``train_step.py`` makes them)."""
    g = torch.Generator().manual_seed(seed)
    if net.input_kind == "events":
        x = (torch.rand(batch, net.n_steps, *net.input_shape, generator=g) < event_rate).float()
    else:
        x = torch.randn(batch, *net.input_shape, generator=g)
    y = torch.randint(0, net.num_classes, (batch,), generator=g)
    return x.to(device), y.to(device)


def load_weights(net: SpikingNetwork, name: str, which: str) -> str:
    """Give ``net`` the zoo's shipped weights of ``name`` when ``which`` is ``"shipped"`` and the
    zoo ships them; returns what the net holds: ``"shipped"`` or ``"init"`` (seeded init)."""
    if which != "shipped" or name in SMOKE_NETS or not get_entry(name).shipped:
        return "init"
    from bna_zoo.hub.checkpoint import read_weights

    entry = get_entry(name)
    net.load_state_dict(read_weights(entry.shipped_dir, entry.sha256))
    return "shipped"


def make_train_step(
    model: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: nn.Module, x: torch.Tensor, y: torch.Tensor,
) -> Callable[[], None]:
    """One training step of the recipe on the fixed batch: forward, loss, backward, gradient
    clip, AdamW, weight clamp (the same for every implementation)."""
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=LR)

    def step() -> None:
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
        opt.step()
        with torch.no_grad():
            for p in params:
                p.clamp_(-WEIGHT_CLAMP, WEIGHT_CLAMP)

    return step


# ------------------------------------------------------------------------------- harness
def peer_versions() -> dict[str, str | None]:
    """Installed version of each optional peer library, ``None`` where it cannot be imported."""
    out: dict[str, str | None] = {}
    for label, module, dist in ((SNNTORCH, "snntorch", "snntorch"),
                                (SPIKINGJELLY, "spikingjelly.activation_based.neuron",
                                 "spikingjelly")):
        try:
            importlib.import_module(module)
            out[label] = importlib.metadata.version(dist)
        except Exception as exc:  # noqa: BLE001 - any import failure means "not usable here"
            out[label] = None
            out[f"{label} error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
    return out


@dataclass
class Impl:
    """One implementation of a benchmark net: the module holding its weights and its forward."""

    label: str
    model: nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]
    trains: bool = True  # takes part in the training-step timing


def build_impls(bench: BenchNet, device: str, seed: int, missing: dict[str, str],
                weights: str = "shipped") -> tuple[list[Impl], str]:
    """Every implementation of ``bench`` with the same weights (see :func:`load_weights`) but
    the peers in ``missing``; returns them and the weights' origin."""
    torch.manual_seed(seed)
    na = bench.build("na")
    origin = load_weights(na, bench.name, weights)
    na = na.to(device)
    sg = bench.build("surrogate").to(device)
    sg.load_state_dict(na.state_dict())
    impls = [Impl(OURS_NA, na, na), Impl(OURS_SG, sg, sg)]
    builders: list[tuple[str, Callable[[SpikingNetwork], PeerNet]]] = [
        (PLAIN_STEP, StepLoopNet), (PLAIN_LAYER, LayerLoopNet),
        (SNNTORCH, SnnTorchNet), (SPIKINGJELLY, SpikingJellyNet),
    ]
    for label, make in builders:
        if label not in missing:
            peer = make(na).to(device)
            impls.append(Impl(label, peer, peer))
    return impls, origin


def _layer_spikes(psc: torch.Tensor, tau_s: float) -> torch.Tensor:
    return spikes_from_psc(psc.reshape(psc.shape[0], psc.shape[1], -1), tau_s)


def check_impls(bench: BenchNet, impls: list[Impl], x: torch.Tensor, y: torch.Tensor,
                missing: dict[str, str]) -> list[dict[str, Any]]:
    """The equality and gradient checks of every implementation against ours (eval mode).

    Each row: ``label``, ``identical`` (every spiking layer's PSC equal bit for bit),
    ``expected_identical`` (whether the arithmetic allows it, see the module docstring),
    ``max_dev`` (largest PSC difference over all layers), ``spike_mismatch`` (share of differing
    spikes), ``spikes`` (spikes ours fired, per spiking layer: a check of a silent layer proves
    little), ``grad_rel_dev`` (surrogate peers: over the weight tensors, the largest difference
    to our surrogate's gradient relative to that tensor's largest gradient), ``passed``.
    """
    ours = impls[0].model
    tau_s = ours.neuron.tau_s
    loss_fn = build_loss(bench.loss, bench.loss_args, tau_s)
    with torch.no_grad():
        for impl in impls:
            impl.model.eval()
        ref_out, traces = ours.forward_with_trace(x)
        ref = list(traces.values())
    ref_spikes = [_layer_spikes(r, tau_s) for r in ref]
    n_spikes = [int(s.sum()) for s in ref_spikes]
    n_total = sum(s.numel() for s in ref_spikes)

    def grads(model: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor]) -> list:
        model.zero_grad(set_to_none=True)
        loss_fn(forward(x), y).backward()
        out = [p.grad.detach().clone() for p in model.parameters()]
        model.zero_grad(set_to_none=True)
        return out

    sg_impl = next(i for i in impls if i.label == OURS_SG)
    ref_grads = grads(sg_impl.model, sg_impl.forward)
    rows = []
    for impl in impls[1:]:
        with torch.no_grad():
            if isinstance(impl.model, PeerNet):
                impl.model.record = True
                impl.forward(x)
                got = impl.model.traces
                impl.model.record = False
            else:
                got = list(impl.model.forward_with_trace(x)[1].values())
        assert len(got) == len(ref), (impl.label, len(got), len(ref))
        identical = all(torch.equal(a, b) for a, b in zip(got, ref, strict=True))
        max_dev = max(float((a - b).abs().max()) for a, b in zip(got, ref, strict=True))
        mismatch = sum(int((_layer_spikes(a, tau_s) != s).sum())
                       for a, s in zip(got, ref_spikes, strict=True))
        expected = True
        if impl.label == SPIKINGJELLY:
            # SpikingJelly's charge v - v/tau rounds like our v*(1 - 1/tau) when 1/tau is a power
            # of two, and only then
            expected = math.log2(ours.neuron.tau_m).is_integer()
        grad_dev = None
        if impl.label != OURS_SG:  # our surrogate is the reference
            model, forward = impl.model, impl.forward
            if impl.label == SPIKINGJELLY:
                # its timed SoftSign surrogate is k/2 times ours: check the gradient of the same
                # SpikingJelly network with our spike function as the surrogate
                model = SpikingJellyNet(ours, exact_surrogate=True)
                model.load_state_dict(impl.model.state_dict())
                model = model.to(next(impl.model.parameters()))
                model.eval()
                forward = model
            got_g = grads(model, forward)
            grad_dev = max(float((a - b).abs().max()) / (float(b.abs().max()) or 1.0)
                           for a, b in zip(got_g, ref_grads, strict=True))
        rows.append({
            "model": bench.name, "label": impl.label, "identical": identical,
            "expected_identical": expected, "max_dev": max_dev,
            "spike_mismatch": mismatch / max(n_total, 1), "spikes": n_spikes,
            "grad_rel_dev": grad_dev,
            "passed": (identical or not expected) and (grad_dev is None or not identical
                                                       or grad_dev < GRAD_RTOL),
        })
    for label in PEERS:
        if label in missing:
            rows.append({"model": bench.name, "label": label, "identical": None,
                         "expected_identical": None, "passed": None,
                         "note": _missing_cell(missing[label])})
    return rows


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, warmup: int,
                device: str) -> dict[str, float]:
    """Median seconds per call of each function; every round calls each once, the order
    rotating from round to round (no implementation always runs first, or after the same one)."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            _sync(device)
            t0 = time.perf_counter()
            fns[name]()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in times.items()}


def time_impls(bench: BenchNet, impls: list[Impl], x: torch.Tensor, y: torch.Tensor,
               rounds: int, warmup: int, device: str) -> tuple[dict[str, float], dict[str, float]]:
    """``(training ms per step, inference samples/s)`` by implementation label.

    Inference runs our network once (NA and surrogate share the forward).
    """
    loss_fn = build_loss(bench.loss, bench.loss_args, impls[0].model.neuron.tau_s)
    steps = {i.label: make_train_step(i.model, i.forward, loss_fn, x, y)
             for i in impls if i.trains}
    train = interleaved(steps, rounds, warmup, device)
    for impl in impls:
        impl.model.eval()

    def infer(impl: Impl) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                impl.forward(x)
        return run

    runs = {("bna_zoo" if i.label == OURS_NA else i.label): infer(i)
            for i in impls if i.label != OURS_SG}
    inference = interleaved(runs, rounds, warmup, device)
    return ({k: 1e3 * v for k, v in train.items()},
            {k: x.shape[0] / v for k, v in inference.items()})


def net_bound(net: SpikingNetwork, x: torch.Tensor, device: str, reps: int,
              seed: int) -> dict[str, Any]:
    """The FLOP bound of ``net`` on the batch ``x`` (``flops.py``), as a JSON-ready dict.

    One timing serves both tables: the forward ops are the inference bound, forward and
    gradient ops together the training bound. Keys: ``gmac_forward``, ``gmac_backward``,
    ``forward_ms``, ``train_ms``, ``peak_gflops``, ``peak_op`` and ``ops`` (one dict per op).
    """
    bound: Bound = measure_bound(trace_layers(net, x), training=True, device=device,
                                 reps=reps, seed=seed)
    peak = bound.peak
    return {"gmac_forward": bound.macs_forward / 1e9, "gmac_backward": bound.macs_backward / 1e9,
            "forward_ms": bound.forward_ms, "train_ms": bound.train_ms,
            "peak_gflops": peak.gflops, "peak_op": f"{peak.layer} {peak.op} ({peak.shape})",
            "ops": [{**o.__dict__, "gflops": o.gflops} for o in bound.ops]}


# -------------------------------------------------------------------------------- output
def missing_peers(available: dict[str, str | None], skip: list[str]) -> dict[str, str]:
    """A one-line note for each peer that will not run: left out, or not importable."""
    missing = {label: "left out with --skip" for label in skip}
    for label in (SNNTORCH, SPIKINGJELLY):
        if available.get(label) is None and label not in missing:
            missing[label] = f"not installed ({available.get(f'{label} error')}); " \
                             "pip install 'bna_zoo[bench]'"
    return missing


def _missing_cell(note: str) -> str:
    return "not installed" if note.startswith("not installed") else "left out"


def _cell(value: float | None, fmt: str, missing: dict[str, str], label: str) -> str:
    if value is not None:
        return format(value, fmt)
    return _missing_cell(missing[label]) if label in missing else "–"


def format_tables(results: list[dict[str, Any]], missing: dict[str, str]) -> str:
    """The markdown tables: checks, training step, inference."""
    lines = ["### Equality checks (eval mode, float32, same weights and inputs as ours)", "",
             "| model | implementation | every layer's PSC vs ours | spikes (ours, per layer) "
             "| differing spikes | grads vs our surrogate (max rel. dev.) | check |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        for c in r["checks"]:
            if c.get("note"):
                lines.append(f"| {r['name']} | {c['label']} | {c['note']} | | | | skipped |")
                continue
            same = ("identical" if c["identical"] else
                    f"max deviation {c['max_dev']:.3g}"
                    + ("" if c["expected_identical"] else " (rounding differs, see docstring)"))
            grad = "–" if c["grad_rel_dev"] is None else f"{c['grad_rel_dev']:.2g}"
            spikes = "/".join(str(n) for n in c["spikes"])
            lines.append(f"| {r['name']} | {c['label']} | {same} | {spikes} | "
                         f"{c['spike_mismatch']:.2%} | {grad} | "
                         f"{'pass' if c['passed'] else 'FAIL'} |")
    bounded = any(r.get("bound") for r in results)
    surrogates = (OURS_SG, *PEERS)
    train_bound_cols = " GMAC/step | bound ms | NA x bound | surrogate x bound |"
    lines += ["", "### Training step (ms per step, median; forward, loss, backward, clip, AdamW, "
              "clamp)", "",
              "| model | T | batch | " + " | ".join((OURS_NA, *surrogates))
              + " | NA / fastest surrogate |" + (train_bound_cols if bounded else ""),
              "|---|---|---|" + "---|" * (len(surrogates) + 2 + 4 * bounded)]
    for r in results:
        t = r["train_ms"]
        cells = [_cell(t.get(k), ".1f", missing, k) for k in (OURS_NA, *surrogates)]
        fastest = min((k for k in surrogates if k in t), key=t.__getitem__)
        lines.append(f"| {r['name']} | {r['T']} | {r['batch']} | " + " | ".join(cells)
                     + f" | {t[OURS_NA] / t[fastest]:.2f} ({fastest}) |"
                     + (_train_bound_cells(r) if bounded else ""))
    infer_bound_cols = " GMAC/batch | bound ms | ours x bound |"
    lines += ["", "### Inference (samples/s, torch.no_grad, eval mode)", "",
              "| model | T | batch | bna_zoo | " + " | ".join(PEERS) + " | "
              + " | ".join(f"ours / {p}" for p in PEERS) + " |"
              + (infer_bound_cols if bounded else ""),
              "|---|---|---|---|" + "---|" * (2 * len(PEERS) + 3 * bounded)]
    for r in results:
        s = r["infer_sps"]
        cells = [_cell(s.get(k), ".1f", missing, k) for k in PEERS]
        ratios = [_cell(s["bna_zoo"] / s[k] if k in s else None, ".2f", missing, k)
                  for k in PEERS]
        lines.append(f"| {r['name']} | {r['T']} | {r['batch']} | {s['bna_zoo']:.1f} | "
                     + " | ".join(cells + ratios) + " |"
                     + (_infer_bound_cells(r) if bounded else ""))
    if bounded:
        lines += ["", "Bound: our network's conv/linear multiply-adds and those ops timed alone "
                  "(benchmarks/flops.py); element-wise work (LIF/NA, PSC, pooling) is outside "
                  "it. Peak GFLOP/s of one op: " + ", ".join(
                      f"{r['name']} {fmt(r['bound']['peak_gflops'])} ({r['bound']['peak_op']})"
                      for r in results if r.get("bound"))]
    if missing:
        lines.append("")
    lines += [f"{label}: {note}" for label, note in missing.items()]
    return "\n".join(lines)


def _train_bound_cells(r: dict[str, Any]) -> str:
    """GMAC/step, bound ms, NA x bound, surrogate x bound (ours) of one training row."""
    b = r.get("bound")
    if not b:
        return " – | – | – | – |"
    t = r["train_ms"]
    return (f" {fmt(b['gmac_forward'] + b['gmac_backward'])} | {fmt(b['train_ms'])} | "
            f"{t[OURS_NA] / b['train_ms']:.2f} | {t[OURS_SG] / b['train_ms']:.2f} |")


def _infer_bound_cells(r: dict[str, Any]) -> str:
    """GMAC/batch, bound ms, ours x bound (our ms per batch over the forward bound)."""
    b = r.get("bound")
    if not b:
        return " – | – | – |"
    ours_ms = 1e3 * r["batch"] / r["infer_sps"]["bna_zoo"]
    return (f" {fmt(b['gmac_forward'])} | {fmt(b['forward_ms'])} | "
            f"{ours_ms / b['forward_ms']:.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=None,
                        help=f"zoo names (default: {' '.join(BATCH)}; with --smoke: "
                             f"{' '.join(SMOKE_NETS)})")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch size for every model (default: each one's own)")
    parser.add_argument("--steps", type=int, default=5, help="timed rounds (median)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", choices=("shipped", "init"), default="shipped",
                        help="the zoo's shipped weights where it has them, else a seeded init "
                             "(default), or a seeded init everywhere")
    parser.add_argument("--event-rate", type=float, default=EVENT_RATE,
                        help="share of pixels on in the synthetic event frames")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(SKIP),
                        help="peers to leave out")
    parser.add_argument("--no-bound", action="store_true",
                        help="leave out the FLOP bound (GMAC and bound columns)")
    parser.add_argument("--bound-reps", type=int, default=5,
                        help="timed repetitions (median) of each op of the bound")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny nets, 1 round, no warmup, 1 thread, CPU (for the tests)")
    parser.add_argument("--json", default=None, help="also write every result to this file")
    args = parser.parse_args(argv)
    if args.smoke:
        args.models = args.models or list(SMOKE_NETS)
        args.steps, args.warmup, args.device = 1, 0, "cpu"
        args.bound_reps = min(args.bound_reps, 2)
        args.threads = args.threads or 1
    args.models = args.models or list(BATCH)
    if args.threads:
        torch.set_num_threads(args.threads)
    from bna_zoo.core.kernels import active_kernel

    load_start = os.getloadavg()
    available = peer_versions()
    missing = missing_peers(available, [SKIP[k] for k in args.skip])
    print(f"device {args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"NA kernel {active_kernel(args.device)}, snnTorch {available[SNNTORCH]}, "
          f"SpikingJelly {available[SPIKINGJELLY]}; {args.steps} timed rounds (median), "
          f"{args.warmup} warmup; THP_MEM_ALLOC_ENABLE={os.environ['THP_MEM_ALLOC_ENABLE']}; "
          f"freed memory kept {KEPT_MEMORY}")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in load_start)} (1, 5, 15 min)\n",
          flush=True)
    results = []
    for name in args.models:
        bench = SMOKE_NETS[name] if name in SMOKE_NETS else BenchNet.from_zoo(name, args.batch)
        if args.batch and name in SMOKE_NETS:
            bench = BenchNet(bench.name, args.batch, bench.loss, bench.loss_args, bench.overrides)
        impls, origin = build_impls(bench, args.device, args.seed, missing, args.weights)
        net = impls[0].model
        x, y = make_batch(net, bench.batch, args.seed, args.device, args.event_rate)
        what = (f"binary event frames, {args.event_rate:.0%} on" if net.input_kind == "events"
                else "standard-normal static images")
        print(f"{name}: T={net.n_steps}, batch {bench.batch}, {origin} weights, {what}",
              flush=True)
        checks = check_impls(bench, impls, x, y, missing)
        train, infer = time_impls(bench, impls, x, y, args.steps, args.warmup, args.device)
        # after the implementations' timing, in the same process, threads and device
        bound = (None if args.no_bound else
                 net_bound(net, x, args.device, args.bound_reps, args.seed))
        results.append({"name": name, "T": net.n_steps, "batch": bench.batch,
                        "weights": origin, "input": what, "checks": checks, "train_ms": train,
                        "infer_sps": infer, "bound": bound})
    load_end = os.getloadavg()
    print()
    print(format_tables(results, missing))
    print(f"\nload average at end: {' '.join(f'{v:.2f}' for v in load_end)} (1, 5, 15 min)")
    passed = all(c["passed"] is not False for r in results for c in r["checks"])
    print(f"equality checks: {'PASS' if passed else 'FAIL'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": args.device, "threads": torch.get_num_threads(),
                       "torch": torch.__version__, "peers": available, "missing": missing,
                       "load_start": load_start, "load_end": load_end, "steps": args.steps,
                       "warmup": args.warmup, "passed": passed, "results": results}, f, indent=1)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
