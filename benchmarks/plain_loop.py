"""The command's own training steps without Lightning: the bare side of ``train_loop.py --fit``.

``train_loop.py --fit`` prices what ``bna-zoo fit`` adds to a training step (Lightning's loop,
hooks, logging, progress bar, data loading) as ``(t_long - t_short) / (long - short)`` of two
runs of the real command. Its first bare step repeated one fixed test batch on a freshly built
network; the command trains on shuffled, augmented training batches with weights that change,
and NA's cost follows how much the network spikes, so the two sides did not do the same work
(mnist-cnn's command step came out 13-19% *faster* than that bare step).

This module runs the same steps the command runs, outside Lightning:

1. the model and DataModule built by the CLI's own parser from the same arguments
   (``BNAZooCLI(run=False)``: the recipe, ``seed_everything``, the same initial weights);
2. the first ``long`` training batches from the DataModule's loader, each finished on the host
   as Lightning does (``on_after_batch_transfer``: augmentation and normalisation), loaded
   **before** the timing, so data loading counts on the command's side only;
3. per batch, untimed, the model's own per-batch reseed (``on_train_batch_start``: the dropout
   masks); timed, only the step: zero grad, forward, the recipe's loss, backward, the recipe's
   gradient clip, AdamW, the weight clamp (``on_train_batch_end``).

Its per-step time over steps ``short .. long-1`` is the same difference the command's two runs
measure. Because it repeats the command's arithmetic, its weights after ``long`` steps equal the
long run's final weights bit for bit (:func:`plain_loop` returns them; ``train_loop.py`` checks).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

import lightning as L
import torch

from bna_zoo import BNAModel
from bna_zoo.cli.lightning import BNAZooCLI, _argv, expand_recipes
from bna_zoo.nn import use_channels_last


@dataclass
class PlainLoop:
    """Result of :func:`plain_loop`.

    Attributes:
        step_ms: wall ms of every step, ``[long]``.
        step_cpu_ms: CPU ms of every step (this process's threads together), ``[long]``.
        state: the network's weights after the last step (``model.state_dict()``).
    """

    step_ms: list[float]
    step_cpu_ms: list[float]
    state: dict[str, torch.Tensor]

    def per_step(self, short: int) -> tuple[float, float]:
        """Mean wall and CPU ms of steps ``short`` to the last: what the command's long run
        does beyond its short one."""
        tail, cpu = self.step_ms[short:], self.step_cpu_ms[short:]
        return sum(tail) / len(tail), sum(cpu) / len(cpu)


def build(config: str, steps: int, data_args: list[str]) -> BNAZooCLI:
    """The CLI that ``bna-zoo fit --config <config> <data_args>`` would run, built and seeded
    (``cli.model``, ``cli.datamodule``, ``cli.trainer``), nothing run yet."""
    with tempfile.TemporaryDirectory() as root:  # the unused trainer's folders, if any
        argv = ["--config", config, "--trainer.max_steps", str(steps),
                "--trainer.default_root_dir", root, *data_args]
        # the CLI's own classes, options and argument passing (run_lightning_cli in
        # bna_zoo.cli.lightning), without running a subcommand
        with _argv(expand_recipes(argv)):
            return BNAZooCLI(BNAModel, L.LightningDataModule, subclass_mode_data=True,
                             auto_configure_optimizers=False, run=False,
                             save_config_callback=None)


def plain_loop(config: str, steps: int, data_args: list[str],
               channels_last: bool = False) -> PlainLoop:
    """Run the command's first ``steps`` training steps outside Lightning and time each.

    Args:
        config: the ``--config`` value (``zoo:<name>`` or a YAML path).
        steps: training steps (all inside the first epoch).
        data_args: ``--data.*`` arguments as the command gets them.
        channels_last: run the convolutions channels-last, as the command does with
            ``--trainer.callbacks+=bna_zoo.callbacks.ChannelsLast`` (``conv_layout.py``).

    Returns:
        every step's wall and CPU ms and the weights after the last step.

    Raises:
        ValueError: the first epoch has fewer batches than ``steps``.
    """
    cli = build(config, steps, data_args)
    model, dm = cli.model, cli.datamodule
    dm.prepare_data()
    dm.setup("fit")
    model.check_data(dm)
    loader = dm.train_dataloader()
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(0)  # as Lightning's fit loop does at every epoch start
    batches = []
    for batch in loader:
        batches.append(dm.on_after_batch_transfer(batch, 0))
        if len(batches) == steps:
            break
    if len(batches) < steps:
        raise ValueError(f"{config}: the first epoch has {len(batches)} batches, fewer than "
                         f"the {steps} steps asked for")
    model.train()
    use_channels_last(model, channels_last)
    model._base_seed = torch.initial_seed()  # what on_fit_start records
    optimizer = model.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    # what configure_gradient_clipping clips: the optimizer's parameters, by norm, at the
    # trainer's value or else the model's
    params = [p for group in optimizer.param_groups for p in group["params"]]
    clip = cli.trainer.gradient_clip_val
    clip = model.hparams.grad_clip if clip is None else clip
    wall, cpu = [], []
    for i, (x, y) in enumerate(batches):
        model.on_train_batch_start((x, y), i)
        t0, c0 = time.perf_counter(), time.process_time()
        optimizer.zero_grad()
        loss = model.loss_fn(model.net(x), y)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        model.on_train_batch_end(None, (x, y), i)
        wall.append(1e3 * (time.perf_counter() - t0))
        cpu.append(1e3 * (time.process_time() - c0))
    return PlainLoop(wall, cpu, {k: v.detach().clone() for k, v in model.state_dict().items()})
