"""Registry of zoo architectures: one name everywhere (registry key = config = card = Hub repo).

Each :class:`ModelSpec` holds the paper's settings for that network (spec §3). Pretrained
entries (trained weights) are described separately in :mod:`bna_zoo.models.pretrained`.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field

from ..nn import NeuronConfig
from .network import SpikingNetwork


@dataclass(frozen=True)
class ModelSpec:
    """An architecture with its paper settings.

    Args:
        name: registry key, e.g. ``"nmnist-cnn"``.
        arch: layers in paper notation.
        input_shape: per-step input shape ``(C, H, W)``.
        n_steps: time steps T.
        tau_m, tau_s, theta: neuron constants.
        loss: ``"kernel"`` or ``"count"``; ``loss_args`` its keyword arguments.
        dataset: the benchmark it belongs to (a DataModule class name in :mod:`bna_zoo.data`).
        conv_weight_scale, linear_weight_scale, dropout_mode: see :class:`SpikingNetwork`.
        reference: best published accuracy for this network (method, percent, source).
        description: one line for tables.
        input_kind: ``"image"`` (static, repeated over T) or ``"events"`` (``[T, 2, H, W]``).
    """

    name: str
    arch: str
    input_shape: tuple[int, ...]
    n_steps: int
    dataset: str
    tau_m: float = 5.0
    tau_s: float = 2.0
    theta: float = 1.0
    loss: str = "kernel"
    loss_args: dict = field(default_factory=dict)
    conv_weight_scale: float = 1.0
    linear_weight_scale: float = 1.0
    dropout_mode: str = "neuron"
    reference: tuple[str, float, str] | None = None
    description: str = ""
    input_kind: str = "image"

    def model_args(self) -> dict:
        """JSON-able architecture arguments (what ``config.json`` stores)."""
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["reference"] = list(self.reference) if self.reference else None
        return d


_SPECS = [
    ModelSpec(
        "mnist-cnn", "15C5-P2-40C5-P2-300-10", (1, 28, 28), 5, "MNISTDataModule",
        reference=("NA (Yang et al. 2021)", 99.69, "ICML 2021 poster"),
        description="MNIST spiking CNN of the NA paper",
    ),
    ModelSpec(
        "nmnist-cnn", "12C5p1-P2-64C5-P2-D0.2-10", (2, 34, 34), 30, "NMNISTDataModule",
        tau_m=8.0, tau_s=4.0, loss="count", loss_args={"desired": 15.0, "undesired": 3.0},
        reference=("TSSL-BP (Zhang & Li 2020)", 99.28, "TSSL-BP README, T=30"),
        description="N-MNIST spiking CNN (TSSL-BP/NA config)", input_kind="events",
    ),
    ModelSpec(
        "fashionmnist-mlp", "400-400-10", (1, 28, 28), 5, "FashionMNISTDataModule",
        tau_s=3.0,
        reference=("TSSL-BP (Zhang & Li 2020)", 89.92, "TSSL-BP README"),
        description="Fashion-MNIST spiking MLP 784-400-400-10",
    ),
    ModelSpec(
        "fashionmnist-cnn", "32C5p2-P2-64C5p2-P2-1024-10", (1, 28, 28), 5, "FashionMNISTDataModule",
        reference=("TSSL-BP (Zhang & Li 2020)", 92.83, "TSSL-BP README"),
        description="Fashion-MNIST spiking CNN",
    ),
    ModelSpec(
        "cifar10-cnn",
        "96C3p1-D0.2-256C3p1-P2-D0.2-384C3p1-P2-D0.2-384C3p1-D0.2-256C3p1-D0.2-1024-D0.2-1024-D0.2-10",
        (3, 32, 32), 5, "CIFAR10DataModule", conv_weight_scale=5.0,
        reference=("NA (Yang et al. 2021)", 91.76, "ICML 2021 poster"),
        description="CIFAR-10 'AlexNet' spiking CNN of the NA paper",
    ),
    ModelSpec(
        "dvsgesture-cnn", "16C5p2-P2-32C3p1-P2-64C3p1-P2-D0.2-256-11", (2, 32, 32), 30,
        "DVSGestureDataModule", tau_m=8.0, tau_s=4.0, loss="count",
        loss_args={"desired": 15.0, "undesired": 3.0},
        description="DVS128 Gesture spiking CNN on 32x32 downsampled events (beyond the paper)",
        input_kind="events",
    ),
]

MODELS: dict[str, ModelSpec] = {s.name: s for s in _SPECS}


def list_models() -> list[str]:
    """Names of all registered architectures."""
    return sorted(MODELS)


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; unknown names list close matches and all choices."""
    if name not in MODELS:
        close = difflib.get_close_matches(name, MODELS, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(f"unknown model {name!r}.{hint} Available: {', '.join(list_models())}")
    return MODELS[name]


def create_model(
    name: str,
    *,
    gradient: str = "na",
    variant: str = "official",
    clip: float = 10.0,
    rescale: bool = False,
    **overrides,
) -> SpikingNetwork:
    """Build a registered architecture with its paper settings.

    Args:
        name: registry key (see :func:`list_models`).
        gradient: ``"na"`` or ``"surrogate"``.
        variant: NA form, ``"official"`` or ``"paper"``.
        clip: clip of the paper form.
        rescale: enable the official layer-wise log-ratio rescale.
        **overrides: any :class:`ModelSpec` field except ``name`` (e.g. ``n_steps=10``,
            ``arch=...``, ``tau_m=...``).

    Returns:
        A freshly initialised :class:`SpikingNetwork`.
    """
    spec = get_spec(name)
    bad = set(overrides) - set(ModelSpec.__dataclass_fields__) | ({"name"} & set(overrides))
    if bad:
        raise TypeError(f"create_model got unknown overrides {sorted(bad)}")
    args = {**asdict(spec), **overrides}
    neuron = NeuronConfig(
        tau_m=args["tau_m"], tau_s=args["tau_s"], theta=args["theta"],
        gradient=gradient, variant=variant, clip=clip, rescale=rescale,
    )
    return SpikingNetwork(
        args["arch"], tuple(args["input_shape"]), args["n_steps"], neuron,
        conv_weight_scale=args["conv_weight_scale"],
        linear_weight_scale=args["linear_weight_scale"],
        dropout_mode=args["dropout_mode"],
        input_kind=args["input_kind"],
    )
