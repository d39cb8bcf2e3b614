"""bna_zoo.callbacks: ChannelsLast changes the layout of a run's convolutions, not its result."""

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from bna_zoo import BNAModel
from bna_zoo.callbacks import ChannelsLast
from bna_zoo.nn import SpikingConv2d
from tests.helpers import TensorDataModule, quiet_trainer


class _LayoutProbe(Callback):
    """Records each training step's ``channels_last`` flags."""

    def __init__(self) -> None:
        self.seen: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen += [m.channels_last for m in pl_module.modules()
                      if isinstance(m, SpikingConv2d)]


def _fit(callbacks: list[Callback]) -> BNAModel:
    L.seed_everything(0)
    model = BNAModel("small-cnn", arch="4C3-P2-10", input_shape=[1, 28, 28], n_steps=3)
    trainer = quiet_trainer(max_steps=3, callbacks=callbacks, num_sanity_val_steps=0,
                            limit_val_batches=0)
    trainer.fit(model, TensorDataModule(n_train=96, n_val=32, batch_size=32))
    return model


def test_channels_last_run_trains_channels_last_and_ends_near_the_default_run():
    probe = _LayoutProbe()
    channels_last = _fit([ChannelsLast(), probe])
    assert probe.seen == [True] * 3  # every step of the run
    default = _fit([])
    for (name, a), (_, b) in zip(default.state_dict().items(),
                                 channels_last.state_dict().items(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name)
    # the run hands the module back with the default layout
    assert not any(m.channels_last for m in channels_last.modules()
                   if isinstance(m, SpikingConv2d))


def test_channels_last_refuses_a_network_without_convolutions():
    model = BNAModel("fashionmnist-mlp")
    trainer = quiet_trainer(max_steps=1, callbacks=[ChannelsLast()])
    with pytest.raises(ValueError, match="no spiking convolution.*drop the callback"):
        trainer.fit(model, TensorDataModule(n_train=32, n_val=32))
