"""The prepared GPU run of issue #10: correctness, kernel and step tables, then time-boxed training.

Run by ``benchmarks/device_run.sh`` on a lent NVIDIA H200 (see its header for the exact ``run``
call), within one wall-clock budget; every section is time-boxed and catches its own errors, so a
failure in one still leaves the others' results. Sections:

a. **correctness**: the Triton kernels on CUDA against the CPU kernels (C where it builds: bit for
   bit, early-exit work included) and the reference loops; one ``bf16-mixed`` and one ``16-mixed``
   Lightning training step of ``BNAModel("fashionmnist-cnn")``.
b. **kernel table**: achieved GB/s of the Triton forward / NA backward / surrogate backward on
   large layers at T=5 and T=30 (minimal traffic: every ``[T, N]`` array read or written once)
   against the H200's ~4.8 TB/s, plus a device copy as the measured ceiling; **step table**: NA
   against surrogate training-step time (the step of ``benchmarks/train_step.py``) for
   fashionmnist-cnn (T=5) and nmnist-cnn (T=30).
c. **training**: ``configs/fashionmnist-cnn.yaml`` (the paper recipe) from the shipped weights,
   for the minutes left; the best weights (``save_pretrained``) and the CSV log go to ``--out``.

Outputs in ``--out`` (at most 8 files come back from the device): ``results.json`` (everything
measured), ``tables.md`` (the tables, ready for ``benchmarks/README.md``), ``metrics.csv`` (the
training log), ``weights/`` (``config.json``, ``model.safetensors``, ``README.md``); the shell
script adds ``device_run.log``.

``--smoke``: the same code on CPU with tiny sizes, the Triton kernels under the interpreter and
two training steps on a synthetic Fashion-MNIST; ``tests/test_device_run.py`` runs it so that
this script cannot rot.
"""

from __future__ import annotations

import os
import sys

if "--smoke" in sys.argv:  # must precede the first import of the Triton kernels
    os.environ["TRITON_INTERPRET"] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no network on the device: shipped weights only

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

from bna_zoo.core import LIFParams, set_backend  # noqa: E402
from bna_zoo.core.kernels import backend, cpu_kernel, na_backward  # noqa: E402
from bna_zoo.core.kernels.torch_kernel import (  # noqa: E402
    OFFICIAL_CLIP,
    lif_forward_torch,
    surrogate_backward_torch,
)
from bna_zoo.core.reference import na_reference  # noqa: E402

H200_GBPS = 4800.0  # HBM3e, vendor datasheet
TARGET_NA_BW = 0.60  # NA backward >= 60% of HBM bandwidth at T=30 (issue #10)
TARGET_STEP_RATIO = 1.2  # NA step <= 1.2x the surrogate step at T=30 (issue #10)
P = LIFParams(tau_m=5.0, tau_s=2.0, theta=1.0)


class Clock:
    """The run's wall-clock budget."""

    def __init__(self, budget_s: float) -> None:
        self.start = time.monotonic()
        self.budget_s = budget_s

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()


def log(message: str) -> None:
    print(f"[device_run] {message}", flush=True)


def section(results: dict, name: str, clock: Clock, fn: Callable[[], object]) -> None:
    """Run one section, recording its result or its error and its wall time."""
    log(f"--- {name} ({clock.left():.0f} s left)")
    t0 = time.monotonic()
    try:
        results[name] = fn()
    except Exception as err:  # noqa: BLE001 - one broken section must not lose the others
        traceback.print_exc()
        results[name] = {"error": f"{type(err).__name__}: {err}"}
    results.setdefault("wall_s", {})[name] = round(time.monotonic() - t0, 1)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _timed_ms(fn: Callable[[], object], device: str, reps: int) -> float:
    """Median milliseconds of ``fn``: Triton's do_bench (L2 flushed between runs) on CUDA."""
    if device == "cuda":
        import triton.testing

        return float(triton.testing.do_bench(fn, warmup=10, rep=100, return_mode="median"))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def _currents(steps: int, n: int, seed: int, dtype: torch.dtype, device: str) -> torch.Tensor:
    """~20% firing, a seventh of the columns silent, some exactly at threshold at t = 0."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, n, generator=gen, dtype=torch.float64) * 0.6 + 0.35
    x[:, ::7] -= 2.0
    x = x.to(dtype)
    x[:, 1::11] = P.theta
    return x.to(device)


# ------------------------------------------------------------------------- a. correctness


def kernel_correctness(device: str, smoke: bool) -> dict:
    """Triton on ``device`` against the CPU kernels and the reference loops."""
    tk = backend.triton_kernels()
    c_ok = cpu_kernel.load_library() is not None
    checks: dict[str, object] = {"cpu_reference": "c" if c_ok else "torch"}
    # smoke: the interpreter runs the O(T^2) neighbor pass in Python, so small T and N
    sizes = [(5, 130), (12, 40)] if smoke else [(5, 421), (30, 421), (30, 100_003)]
    failures = []
    for dtype in (torch.float32, torch.float64):
        for steps, n in sizes:
            cur = _currents(steps, n, seed=steps + n, dtype=dtype, device="cpu")
            grad = torch.randn(cur.shape, generator=torch.Generator().manual_seed(n), dtype=dtype)
            key = f"{str(dtype)[6:]} T={steps} N={n}"
            fwd = tk.lif_forward_triton(cur.to(device), P)
            pairs = zip(fwd, lif_forward_torch(cur, P), strict=True)
            if not all(torch.equal(a.cpu(), b) for a, b in pairs):
                failures.append(f"forward {key}")
            sur = tk.surrogate_backward_triton(cur.to(device), grad.to(device), P, 5.0).cpu()
            if not torch.equal(sur, surrogate_backward_torch(cur, grad, P, 5.0)):
                failures.append(f"surrogate {key}")
            for official in (True, False):
                clip = OFFICIAL_CLIP if official else 3.0
                delta, work = tk.na_backward_triton_with_work(
                    cur.to(device), grad.to(device), P, official, clip, count_work=True
                )
                name = f"na {'official' if official else 'paper'} {key}"
                if c_ok:
                    ref, c_work = cpu_kernel.na_backward_c_with_work(cur, grad, P, official, clip)
                    if not torch.equal(delta.cpu(), ref) or work != c_work:
                        diff = float((delta.cpu() - ref).abs().max())
                        failures.append(f"{name}: max diff {diff:.3g}, work {work} vs {c_work}")
                else:
                    ref = na_backward(cur, grad, P, "official" if official else "paper", clip,
                                      "torch")  # fmt: skip
                    if not torch.allclose(delta.cpu(), ref, rtol=1e-5, atol=1e-6):
                        failures.append(name)
    # against the slow loops of reference.py (float64, a few neurons)
    cur = _currents(12 if smoke else 30, 9, seed=1, dtype=torch.float64, device="cpu")
    grad = torch.randn(cur.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for variant in ("official", "paper"):
        clip = OFFICIAL_CLIP if variant == "official" else 3.0
        delta = tk.na_backward_triton(cur.to(device), grad.to(device), P, variant == "official",
                                      clip).cpu()  # fmt: skip
        _, ref = na_reference(cur[None], grad[None], P.tau_m, P.tau_s, P.theta, variant, 3.0)
        if not torch.allclose(delta, ref[0], rtol=1e-10, atol=1e-10):
            failures.append(f"reference loops {variant}")
    checks.update(passed=not failures, failures=failures)
    log(f"kernel correctness: {'PASS' if not failures else 'FAIL ' + '; '.join(failures)}")
    return checks


def lightning_steps(device: str, smoke: bool) -> dict:
    """One Lightning training step of fashionmnist-cnn per mixed precision."""
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    from bna_zoo import BNAModel

    out = {}
    batch = 4 if smoke else 50
    gen = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(batch, 1, 28, 28, generator=gen),
                         torch.randint(0, 10, (batch,), generator=gen))  # fmt: skip
    for precision in ("bf16-mixed", "16-mixed"):
        if device == "cpu" and precision == "16-mixed":
            out[precision] = {"skipped": "float16 autocast needs CUDA"}
            continue
        torch.manual_seed(0)
        model = BNAModel("fashionmnist-cnn")
        before = [p.detach().clone() for p in model.parameters()]
        trainer = L.Trainer(
            accelerator="gpu" if device == "cuda" else "cpu", devices=1, precision=precision,
            max_steps=1, limit_val_batches=0, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False,
        )  # fmt: skip
        trainer.fit(model, DataLoader(data, batch_size=batch))
        loss = float(trainer.callback_metrics["train_loss"])
        params = list(model.parameters())
        pairs = zip(params, before, strict=True)
        changed = any(not torch.equal(p.detach().cpu(), b.cpu()) for p, b in pairs)
        finite = all(bool(torch.isfinite(p).all()) for p in params)
        with torch.no_grad(), torch.autocast(device, dtype=torch.bfloat16):
            out_dtype = str(model.to(device)(data.tensors[0][:2].to(device)).dtype)
        ok = math.isfinite(loss) and changed and finite and out_dtype == "torch.float32"
        out[precision] = {"loss": loss, "weights_changed": changed, "finite": finite,
                          "output_dtype": out_dtype, "passed": ok}  # fmt: skip
        log(f"Lightning {precision} step: loss {loss:.4g}, {'PASS' if ok else 'FAIL'}")
    return out


# ------------------------------------------------------------------------ b. tables


def kernel_table(device: str, smoke: bool, clock: Clock) -> dict:
    """GB/s of the three Triton kernels on large layers at T=5 and T=30."""
    tk = backend.triton_kernels()
    elements = 1 << 9 if smoke else 1 << 26  # [T, N] of 256 MB in float32
    rows: list[dict] = []
    for steps in (5, 12) if smoke else (5, 30):
        sweep = steps == 30 and clock.left() > 300 and not smoke
        rows += _kernel_rows(tk, steps, elements // steps, device, sweep)
    na30 = [r["pct_hbm"] for r in rows if r["kernel"].startswith("NA backward official")
            and r["T"] == 30]  # fmt: skip
    best = max(na30, default=float("nan"))
    verdict = {"na_t30_pct_hbm_default": na30[0] if na30 else None, "na_t30_best_pct_hbm": best,
               "target_pct": 100 * TARGET_NA_BW, "met": bool(best >= 100 * TARGET_NA_BW)}
    log(f"target NA backward >= {100 * TARGET_NA_BW:.0f}% of HBM at T=30: best {best:.1f}% "
        f"-> {'met' if verdict['met'] else 'NOT met'}")  # fmt: skip
    return {"copy_ceiling_GBps": _copy_gbps(elements, device), "rows": rows, "target": verdict}


def _copy_gbps(elements: int, device: str) -> float:
    """A device copy (read + write) of one [T, N] array: the bandwidth actually reachable."""
    src = torch.empty(elements, device=device)
    return 2 * elements * 4 / _timed_ms(src.clone, device, reps=1) / 1e6


def _kernel_rows(tk, steps: int, n: int, device: str, sweep: bool) -> list[dict]:
    """Time every kernel on one random [T, N] float32 layer; GB/s of its minimal traffic."""
    cur = _currents(steps, n, seed=steps, dtype=torch.float32, device=device)
    grad = torch.randn(cur.shape, device=device)
    array_gb = cur.numel() * 4 / 1e9
    kernels = {  # name: (call, [T, N] arrays read or written once)
        "forward (u, s, a)": (lambda: tk.lif_forward_triton(cur, P), 4),
        "forward (a only)": (lambda: tk.lif_forward_triton(cur, P, state=False), 2),
        "NA backward official": (lambda: tk.na_backward_triton(cur, grad, P, True, OFFICIAL_CLIP),
                                 3),  # fmt: skip
        "NA backward paper": (lambda: tk.na_backward_triton(cur, grad, P, False, 3.0), 3),
        "surrogate backward": (lambda: tk.surrogate_backward_triton(cur, grad, P, 5.0), 3),
    }
    if sweep:  # other launch shapes of the NA kernel (block, warps), to pick the default
        for block, warps in ((64, 2), (128, 2), (256, 4), (256, 8)):
            kernels[f"NA backward official block={block} warps={warps}"] = (
                lambda b=block, w=warps: tk.na_backward_triton(
                    cur, grad, P, True, OFFICIAL_CLIP, block=b, num_warps=w),
                3,
            )  # fmt: skip
    rows = []
    for name, (fn, arrays) in kernels.items():
        if device == "cuda":
            fn()  # compile outside the timing
        ms = _timed_ms(fn, device, reps=1)
        gbps = arrays * array_gb / ms * 1e3
        rows.append({"kernel": name, "T": steps, "N": n, "ms": ms, "GB/s": gbps,
                     "pct_hbm": 100 * gbps / H200_GBPS})  # fmt: skip
        log(f"T={steps:2d} {name:45s} {ms:9.3f} ms {gbps:8.1f} GB/s "
            f"({100 * gbps / H200_GBPS:4.1f}% of {H200_GBPS:.0f})")  # fmt: skip
    _, work = tk.na_backward_triton_with_work(cur, grad, P, True, OFFICIAL_CLIP, count_work=True)
    full = math.ceil(n / tk.NA_BLOCK) * steps * (steps - 1) // 2
    rows.append({"kernel": "NA neighbor steps simulated (early exit)", "T": steps, "N": n,
                 "fraction_of_full": work / max(full, 1)})  # fmt: skip
    return rows


def _training_step(name: str, gradient: str, batch: int, device: str) -> Callable[[], None]:
    """One step of the paper recipe (forward, SUM loss, backward, clip 1, AdamW, clamp ±4) on a
    fixed random batch, as ``benchmarks/train_step.py`` times it, built from ``BNAModel``."""
    from bna_zoo import BNAModel

    torch.manual_seed(0)
    model = BNAModel(name, gradient=gradient).to(device)  # the layer rescale on, for NA
    net, loss_fn = model.net, model.loss_fn
    opt = torch.optim.AdamW(net.parameters(), lr=5e-4)
    gen = torch.Generator().manual_seed(0)
    if net.input_kind == "events":
        x = (torch.rand(batch, net.n_steps, *net.input_shape, generator=gen) < 0.05).float()
    else:
        x = torch.randn(batch, *net.input_shape, generator=gen)
    x, y = x.to(device), torch.randint(0, net.num_classes, (batch,), generator=gen).to(device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for p in net.parameters():
                p.clamp_(-4.0, 4.0)

    return step


def _step_ms(name: str, batch: int, device: str, steps: int, warmup: int) -> dict:
    """Median ms per step of NA and of the surrogate, alternating so noise hits both alike."""
    runs = {g: _training_step(name, g, batch, device) for g in ("na", "surrogate")}
    for step in runs.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {g: [] for g in runs}
    for _ in range(steps):
        for g, step in runs.items():
            _sync(device)
            t0 = time.perf_counter()
            step()
            _sync(device)
            times[g].append(1e3 * (time.perf_counter() - t0))
    na, sg = (statistics.median(times[g]) for g in ("na", "surrogate"))
    return {"name": name, "batch": batch, "na_ms": na, "sg_ms": sg, "ratio": na / sg}


def step_table(device: str, smoke: bool) -> dict:
    """NA against surrogate training steps; the Triton backend on CUDA (``auto``)."""
    rows = []
    for name, batch, steps_t in (("fashionmnist-cnn", 50, 5), ("nmnist-cnn", 32, 30)):
        row = _step_ms(name, 2 if smoke else batch, device, *((1, 0) if smoke else (10, 3)))
        row.update(T=steps_t, backend=backend.describe(device))
        rows.append(row)
        log(f"{name} T={steps_t} batch {row['batch']}: NA {row['na_ms']:.2f} ms, surrogate "
            f"{row['sg_ms']:.2f} ms, ratio {row['ratio']:.2f}")  # fmt: skip
    t30 = [r["ratio"] for r in rows if r["T"] == 30]
    met = bool(t30 and t30[0] <= TARGET_STEP_RATIO)
    log(f"target NA step <= {TARGET_STEP_RATIO}x surrogate at T=30: "
        f"{t30[0] if t30 else float('nan'):.2f} -> {'met' if met else 'NOT met'}")  # fmt: skip
    return {"rows": rows, "target": {"t30_ratio": t30[0] if t30 else None,
                                     "target": TARGET_STEP_RATIO, "met": met}}  # fmt: skip


# ------------------------------------------------------------------------ c. training


def _write_tiny_fashion_mnist(folder: Path, n_train: int = 64, n_test: int = 16) -> None:
    """Decompressed IDX files of random images (smoke mode: no dataset needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8)
        labels = torch.arange(n, dtype=torch.uint8) % 10
        header = (2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (n, 28, 28))
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.numpy().tobytes())
        header = (2049).to_bytes(4, "big") + n.to_bytes(4, "big")
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(header + labels.numpy().tobytes())


def train(device: str, smoke: bool, clock: Clock, out: Path, gz_dir: str) -> dict:
    """The paper recipe from the shipped weights for the time left; best weights to ``out``.

    The objects are built from ``configs/fashionmnist-cnn.yaml`` directly, not through
    ``bna-zoo fit``: LightningCLI needs jsonargparse, which the device image lacks.
    """
    import importlib
    from datetime import timedelta

    import lightning as L
    import yaml
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from bna_zoo import BNAModel

    work = Path(tempfile.mkdtemp(prefix="bna_device_run_"))
    data_dir = work / "data"
    if smoke:
        _write_tiny_fashion_mnist(data_dir / "FashionMNIST" / "raw")
    elif not Path(gz_dir, "train-images-idx3-ubyte.gz").is_file():
        return {"skipped": f"no Fashion-MNIST gz files in {gz_dir} (see device_run.sh header)"}
    seconds = int(clock.left() - 60)  # ~60 s for the test of the best weights, saving, exit
    if seconds < 60 and not smoke:
        return {"skipped": f"only {clock.left():.0f} s left"}
    config = yaml.safe_load((ROOT / "configs" / "fashionmnist-cnn.yaml").read_text())
    L.seed_everything(config.get("seed_everything", 0))
    model = BNAModel(**{**config["model"], "pretrained": "fashionmnist-cnn"})
    module, _, cls = config["data"]["class_path"].rpartition(".")
    data_args = {**config["data"]["init_args"], "data_dir": str(data_dir), "system_dir": gz_dir}
    if smoke:
        data_args["batch_size"] = 8
        data_args["val_size"] = 16  # of the 64 tiny training images (the recipe holds out 10,000)
    data = getattr(importlib.import_module(module), cls)(**data_args)
    # the config's trainer, with its logger and checkpoints in the scratch folder (not runs/)
    trainer_args = {k: v for k, v in config["trainer"].items()
                    if k not in ("logger", "callbacks", "default_root_dir")}  # fmt: skip
    trainer_args.update(
        accelerator="gpu" if device == "cuda" else "cpu", enable_progress_bar=False,
        max_time=timedelta(seconds=max(seconds, 1)),
        # validate four times an epoch, so a run cut by max_time still has a best checkpoint
        val_check_interval=0.25,
    )  # fmt: skip
    if smoke:
        trainer_args.update(max_epochs=1, limit_train_batches=2, limit_val_batches=1,
                            limit_test_batches=1, val_check_interval=1.0)  # fmt: skip
    checkpoint = ModelCheckpoint(dirpath=work / "checkpoints", monitor="val_acc", mode="max",
                                 filename="best-{epoch:03d}-{val_acc:.4f}")  # fmt: skip
    trainer = L.Trainer(
        **trainer_args, default_root_dir=work, logger=CSVLogger(work, name="logs"),
        callbacks=[checkpoint, LearningRateMonitor(logging_interval="epoch")],
    )  # fmt: skip
    log(f"fit for at most {seconds} s: {trainer_args}")
    t0 = time.monotonic()
    trainer.fit(model, datamodule=data)
    fit_s = time.monotonic() - t0
    best = checkpoint.best_model_path
    tested = trainer.test(model, datamodule=data, ckpt_path=best or None, verbose=False)
    test = {k: float(v) for k, v in (tested[0] if tested else {}).items()}
    result = {"fit_s": round(fit_s, 1), "epochs": trainer.current_epoch,
              "global_steps": trainer.global_step, "best_checkpoint": best,
              "best_val_acc": _float(checkpoint.best_model_score), "test": test}  # fmt: skip
    for csv in Path(trainer.logger.log_dir).glob("metrics.csv"):
        shutil.copy(csv, out / "metrics.csv")
    if best:
        model = BNAModel.load_from_checkpoint(best, map_location="cpu")
        card = {"metrics": {"test_acc": test["test_acc"]}} if "test_acc" in test else {}
        try:
            model.save_pretrained(out / "weights", hardware=_device_name(device),
                                  wall_time=f"{fit_s:.0f} s", note="benchmarks/device_run.py",
                                  **card)  # fmt: skip
        except TypeError:  # the card fields changed: the weights matter more than the card
            model.save_pretrained(out / "weights")
        result["weights"] = str(out / "weights")
    log(f"training: {result['global_steps']} steps in {fit_s:.0f} s, best val_acc "
        f"{result['best_val_acc']}, test {test}")  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return result


def _float(x) -> float | None:
    return None if x is None else float(x)


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name() if device == "cuda" else "cpu"


# ------------------------------------------------------------------------------ output


def tables_markdown(results: dict) -> str:
    """The kernel and step tables and the verdicts, as Markdown."""
    lines = [f"# Device run, {results['env'].get('device_name')}",
             "", f"torch {results['env'].get('torch')}, triton {results['env'].get('triton')}"]
    kt = results.get("kernel_table", {})
    if "rows" in kt:
        lines += ["", f"Device copy (read + write): {kt['copy_ceiling_GBps']:.0f} GB/s.", "",
                  "| kernel | T | N | ms | GB/s | % of 4.8 TB/s |", "|---|---|---|---|---|---|"]
        for r in kt["rows"]:
            if "ms" in r:
                lines.append(f"| {r['kernel']} | {r['T']} | {r['N']} | {r['ms']:.3f} | "
                             f"{r['GB/s']:.0f} | {r['pct_hbm']:.1f} |")  # fmt: skip
            else:
                lines.append(f"| {r['kernel']} | {r['T']} | {r['N']} | "
                             f"{100 * r['fraction_of_full']:.1f}% of T(T-1)/2 | | |")  # fmt: skip
        lines += ["", f"Target NA backward >= 60% of HBM at T=30: {kt['target']}"]
    st = results.get("step_table", {})
    if "rows" in st:
        lines += ["", "| model | T | batch | NA ms/step | surrogate ms/step | NA/surrogate |",
                  "|---|---|---|---|---|---|"]
        for r in st["rows"]:
            lines.append(f"| {r['name']} | {r['T']} | {r['batch']} | {r['na_ms']:.2f} | "
                         f"{r['sg_ms']:.2f} | {r['ratio']:.2f} |")  # fmt: skip
        lines += ["", f"Target NA step <= 1.2x surrogate at T=30: {st['target']}"]
    for name in ("kernel_correctness", "lightning_steps", "training"):
        lines += ["", f"{name}: `{json.dumps(results.get(name), default=str)[:2000]}`"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder ($OUT on the device)")
    parser.add_argument("--budget-s", type=float, default=520.0, help="wall-clock budget")
    parser.add_argument("--data", default="data/device/fashion-mnist",
                        help="folder with the four Fashion-MNIST .gz files")
    parser.add_argument("--smoke", action="store_true",
                        help="CPU, tiny sizes, Triton interpreter, two training steps")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    clock = Clock(args.budget_s)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --smoke on a CPU machine")
    import triton

    results: dict = {"env": {
        "device_name": _device_name(device), "torch": torch.__version__,
        "triton": triton.__version__, "backend_float32": backend.describe(device),
        "triton_interpreted": backend.triton_kernels().INTERPRETED, "smoke": args.smoke,
    }}  # fmt: skip
    log(f"env: {results['env']}")
    if args.smoke:
        set_backend("auto")  # Lightning steps on CPU: C; the Triton sections name it themselves
    section(results, "kernel_correctness", clock, lambda: kernel_correctness(device, args.smoke))
    section(results, "lightning_steps", clock, lambda: lightning_steps(device, args.smoke))
    section(results, "kernel_table", clock, lambda: kernel_table(device, args.smoke, clock))
    section(results, "step_table", clock, lambda: step_table(device, args.smoke))
    if not args.skip_training:
        section(results, "training", clock,
                lambda: train(device, args.smoke, clock, out, args.data))  # fmt: skip
    results["elapsed_s"] = round(clock.elapsed(), 1)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    (out / "tables.md").write_text(tables_markdown(results))
    log(f"done in {clock.elapsed():.0f} s; results in {out}")


if __name__ == "__main__":
    main()
