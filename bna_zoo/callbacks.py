"""Lightning callbacks of the zoo's own, for ``--trainer.callbacks+=bna_zoo.callbacks.NAME``."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import Callback

from .nn import use_channels_last


class ChannelsLast(Callback):
    """Run the model's spiking convolutions on channels-last inputs for the whole run.

    A speed setting like ``precision``: on a 2-core AVX2 CPU it made nmnist-cnn's training step
    3-20% shorter (benchmarks/README.md); results equal the default layout's up to float
    rounding (not bit for bit). It keeps no state, so a run may gain or drop it on resume
    (``--ckpt_path last``), and the weights, checkpoints and saved model folders are the same
    as without it.

    ``bna-zoo fit --config zoo:nmnist-cnn --trainer.callbacks+=bna_zoo.callbacks.ChannelsLast``
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if use_channels_last(pl_module) == 0:
            # a network with no convolution: say so rather than silently do nothing
            raise ValueError(
                f"ChannelsLast: {type(pl_module).__name__} has no spiking convolution to run "
                "channels-last; drop the callback for this network"
            )

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        use_channels_last(pl_module, enabled=False)  # the module leaves the run as it came
