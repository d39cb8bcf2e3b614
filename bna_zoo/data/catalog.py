"""Facts about the datasets the zoo trains on: names, Hub ids, class labels, normalisation.

The one place these live: the DataModules (:mod:`bna_zoo.data`), the zoo entries
(:mod:`bna_zoo.models.zoo`), ``config.json`` and the model cards all read them from here. Pure
data, no imports, so that any part of the package can use it without pulling in Lightning.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    """One benchmark.

    Args:
        name: human name (``"Fashion-MNIST"``).
        hub_id: dataset id for ``model-index`` metadata (a Hub dataset where one exists).
        labels: class names in index order.
        mean, std: per-channel normalisation of images, ``x = (pixel / 255 - mean) / std``;
            ``None`` for event data.
        about: one sentence for model cards: source, licence.
        tags: Hub tags of the benchmark.
    """

    name: str
    hub_id: str
    labels: tuple[str, ...]
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    about: str = ""
    tags: tuple[str, ...] = ()


# The NA and TSSL-BP code normalise Fashion-MNIST with the MNIST statistics: kept, since the
# published numbers were obtained that way.
MNIST_NORM = ((0.1307,), (0.3081,))
CIFAR10_NORM = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))

DIGITS = tuple(f"{d} - {n}" for d, n in enumerate(
    "zero one two three four five six seven eight nine".split()))
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")
CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")
GESTURES = ("Hand clapping", "Right hand wave", "Left hand wave", "Right arm cw",
            "Right arm ccw", "Left arm cw", "Left arm ccw", "Arm roll", "Air drums",
            "Air guitar", "Other gestures")

DATASETS: dict[str, DatasetInfo] = {
    "MNIST": DatasetInfo(
        "MNIST", "ylecun/mnist", DIGITS, *MNIST_NORM,
        about="MNIST (LeCun et al. 1998) is distributed under CC BY-SA 3.0.",
        tags=("image-classification", "mnist")),
    "Fashion-MNIST": DatasetInfo(
        "Fashion-MNIST", "zalando-datasets/fashion_mnist", FASHION, *MNIST_NORM,
        about="Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) is MIT-licensed.",
        tags=("image-classification", "fashion-mnist")),
    "CIFAR-10": DatasetInfo(
        "CIFAR-10", "uoft-cs/cifar10", CIFAR10, *CIFAR10_NORM,
        about="CIFAR-10 (Krizhevsky 2009) is distributed by its authors for research.",
        tags=("image-classification", "cifar-10")),
    "N-MNIST": DatasetInfo(
        "N-MNIST", "tonic/nmnist", DIGITS,
        about="N-MNIST (Orchard et al. 2015) is distributed under CC BY-SA 4.0 (read with "
              "Tonic).",
        tags=("event-camera", "dvs", "n-mnist")),
    "DVS128 Gesture": DatasetInfo(
        "DVS128 Gesture", "tonic/dvsgesture", GESTURES,
        about="DVS128 Gesture (Amir et al. 2017) is distributed under CC BY 4.0 (read with "
              "Tonic).",
        tags=("event-camera", "dvs", "dvs-gesture")),
}
