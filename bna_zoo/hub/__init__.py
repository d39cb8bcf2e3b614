"""Hub I/O: load, save, card and publish zoo checkpoints (safetensors + config.json + card).

Data flow (docs/architecture.md, flows 1 and 3): a zoo name resolves through the registry
(:mod:`bna_zoo.models.pretrained`: Hub repo, pinned revision, sha256, shipped copy) to a folder
with ``config.json`` and ``model.safetensors``; the model is built from the config and the
weights are loaded strictly. Logs go to the ``bna_zoo.hub`` logger (a child of ``bna_zoo``) and
say where the weights came from.

Modules: :mod:`.resolve` (name -> files), :mod:`.load`, :mod:`.save`, :mod:`.card`,
:mod:`.publish` (push, publish, ship in the package).
"""

from .card import card_values, front_matter, normalize_metrics, render_card, template_path
from .errors import HubUnavailableError, IntegrityError
from .load import (
    build_model,
    from_pretrained,
    load_lightning_checkpoint,
    load_state_for_finetuning,
    read_config,
    read_weights,
    sha256_file,
)
from .publish import PublishResult, publish, push_to_hub, register_shipped, upload_folder
from .resolve import Resolved, resolve
from .save import build_config, save_pretrained

__all__ = [
    "HubUnavailableError",
    "IntegrityError",
    "PublishResult",
    "Resolved",
    "build_config",
    "build_model",
    "card_values",
    "from_pretrained",
    "front_matter",
    "load_lightning_checkpoint",
    "load_state_for_finetuning",
    "normalize_metrics",
    "publish",
    "push_to_hub",
    "read_config",
    "read_weights",
    "register_shipped",
    "render_card",
    "resolve",
    "save_pretrained",
    "sha256_file",
    "template_path",
    "upload_folder",
]
