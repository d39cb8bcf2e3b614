"""Hub I/O: checkpoint folders (safetensors + self-describing config.json + card) and the Hub.

Data flow: a zoo name resolves through its entry (:mod:`bna_zoo.models.zoo`: Hub repo, pinned
revision, sha256, shipped copy) to a folder (:mod:`.resolve`); the model is built from its
``config.json`` and the weights are loaded strictly (:mod:`.io`, :mod:`.checkpoint`). Cards
come from one template through ``huggingface_hub.ModelCard`` (:mod:`.card`); uploads go through
``ModelHubMixin.push_to_hub`` on ``BNAModel``; :mod:`.publish` ships or publishes weights.

Nothing here imports ``bna_zoo.bna_model``: loaders receive the class to build. Logs go to the
``bna_zoo.hub`` logger and say where the weights came from.
"""

from .card import card_data, card_values, front_matter, normalize_metrics, render_card
from .checkpoint import (
    CARD_NAME,
    CONFIG_NAME,
    WEIGHTS_NAME,
    read_config,
    read_weights,
    sha256_file,
    write_folder,
)
from .errors import HubUnavailableError, IntegrityError
from .io import (
    architecture_of,
    build_config,
    build_model,
    fetch_for_finetuning,
    has_card,
    load_folder,
    load_lightning_checkpoint,
    save_folder,
    state_for_finetuning,
)
from .publish import PublishResult, publish, register_shipped
from .resolve import Resolved, resolve

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "HubUnavailableError",
    "IntegrityError",
    "PublishResult",
    "Resolved",
    "build_config",
    "build_model",
    "card_data",
    "card_values",
    "architecture_of",
    "fetch_for_finetuning",
    "front_matter",
    "has_card",
    "load_folder",
    "load_lightning_checkpoint",
    "normalize_metrics",
    "publish",
    "read_config",
    "read_weights",
    "register_shipped",
    "render_card",
    "resolve",
    "save_folder",
    "sha256_file",
    "state_for_finetuning",
    "write_folder",
]
