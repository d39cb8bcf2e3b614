"""Spiking layers and losses over the NA core."""

from .layers import (
    PSCEncoder,
    SpikingConv2d,
    SpikingLinear,
    SumPool2d,
    TimeSharedDropout,
    use_channels_last,
)
from .losses import LOSSES, CountLoss, KernelLoss, build_loss, predict_from_output
from .neuron import Neuron, NeuronConfig

__all__ = [
    "LOSSES",
    "CountLoss",
    "KernelLoss",
    "Neuron",
    "NeuronConfig",
    "PSCEncoder",
    "SpikingConv2d",
    "SpikingLinear",
    "SumPool2d",
    "TimeSharedDropout",
    "build_loss",
    "predict_from_output",
    "use_channels_last",
]
