"""Model cards: ``model_cards/<name>.md`` templates rendered with a checkpoint's numbers.

A template is markdown with YAML front matter (Hub metadata: ``library_name``, ``license``,
``tags``, ``datasets``, ``pipeline_tag``, ``model-index``) and ``${placeholder}`` fields
(:class:`string.Template`; ``$$`` is a literal dollar). Rendering substitutes every field (an
unknown one is an error, so a typo in a template cannot ship), then parses the front matter and
drops ``model-index`` metrics that were not measured (``null``), so the metadata the Hub reads is
always valid YAML with real numbers only.

Template lookup: ``<repo>/model_cards/`` (a source checkout, editable installs), then
``bna_zoo/model_cards/`` (package data of a built wheel).
"""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import yaml

from ..models.pretrained import PRETRAINED

if TYPE_CHECKING:
    from ..model import BNAModel

_REPO = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = (
    # a source checkout (editable install): the repo's own model_cards/, where they are edited
    *([_REPO / "model_cards"] if (_REPO / "pyproject.toml").is_file() else []),
    # a built wheel: package data
    Path(__file__).resolve().parents[1] / "model_cards",
)
TRAINING_FIELDS = ("command", "eval_command", "hardware", "wall_time", "epochs", "seed",
                   "history", "data_note")
_METRIC_ALIASES = {"test_acc": "accuracy", "test_rate": "firing_rate", "test_loss": "loss"}


def template_path(name: str) -> Path:
    """The card template of ``name``.

    Raises:
        FileNotFoundError: naming every folder searched.
    """
    for folder in TEMPLATE_DIRS:
        if (folder / f"{name}.md").is_file():
            return folder / f"{name}.md"
    raise FileNotFoundError(f"no model card template {name}.md in "
                            f"{' or '.join(str(d) for d in TEMPLATE_DIRS)}")


def normalize_metrics(metrics: dict[str, float] | None) -> dict[str, float]:
    """Metrics with Lightning's names (``test_acc``...) mapped to ours, accuracy checked.

    Raises:
        ValueError: accuracy outside [0, 1] (percent given instead of a fraction).
    """
    out = {_METRIC_ALIASES.get(k, k): float(v) for k, v in (metrics or {}).items()}
    acc = out.get("accuracy")
    if acc is not None and not 0.0 <= acc <= 1.0:
        raise ValueError(f"accuracy must be a fraction in [0, 1] as torchmetrics logs it, got "
                         f"{acc} (a percentage? divide by 100)")
    return out


def _text(value: Any, fmt: str = "{}") -> str:
    return "not recorded" if value is None else fmt.format(value)


def gradient_text(hparams: dict[str, Any]) -> str:
    """How the weights were trained, in words (NA variant, clip, rescale)."""
    if hparams.get("gradient", "na") != "na":
        return f"{hparams['gradient']} gradient (not NA)"
    variant = hparams.get("variant", "official")
    words = {"official": "official variant (the form in the authors' released code)",
             "paper": f"paper variant (the form of the paper, clip {hparams.get('clip')})"}
    rescale = "on" if hparams.get("rescale", True) else "off"
    return f"NA, {words.get(variant, variant)}; layer-wise gradient rescale {rescale}"


def card_values(model: BNAModel, metrics: dict[str, float] | None = None,
                repo_id: str | None = None, labels: list[str] | None = None,
                **training: Any) -> dict[str, str]:
    """Every ``${field}`` a template may use, as strings, for ``model``."""
    hp = dict(model.hparams)
    name, net, spec = hp["name"], model.net, model.spec
    entry = PRETRAINED.get(name)
    metrics = normalize_metrics(metrics)
    if labels is None and entry is not None and len(entry.labels) == net.num_classes:
        labels = list(entry.labels)
    acc, rate = metrics.get("accuracy"), metrics.get("firing_rate")
    ref = spec.reference
    loss = hp.get("loss") or spec.loss
    loss_args = hp.get("loss_args") if hp.get("loss_args") is not None else spec.loss_args
    values = {
        "model_name": name,
        "repo_id": repo_id or (entry.repo_id if entry else f"bna-zoo/{name}"),
        "license": entry.license if entry else "mit",
        "dataset": entry.dataset if entry else spec.dataset,
        "dataset_id": entry.dataset_id if entry else spec.dataset,
        "arch": net.arch,
        "input_shape": "x".join(str(d) for d in net.input_shape),
        "n_steps": str(net.n_steps),
        "input_text": entry.input.describe() if entry else spec.input_kind,
        "tau_m": f"{net.neuron.tau_m:g}", "tau_s": f"{net.neuron.tau_s:g}",
        "theta": f"{net.neuron.theta:g}",
        "gradient": hp.get("gradient", "na"), "variant": hp.get("variant", "official"),
        "rescale": str(hp.get("rescale", True)).lower(),
        "gradient_text": gradient_text(hp),
        "loss": f"{loss} ({', '.join(f'{k} {v:g}' for k, v in loss_args.items())})"
                if loss_args else str(loss),
        "n_params": f"{sum(p.numel() for p in net.parameters()):,}",
        "num_classes": str(net.num_classes),
        "labels": ", ".join(labels) if labels else f"class indices 0..{net.num_classes - 1}",
        "accuracy": "null" if acc is None else f"{100 * acc:.2f}",
        "accuracy_text": "not measured yet" if acc is None else f"{100 * acc:.2f}%",
        "firing_rate_text": _text(rate, "{:.4f} spikes per neuron per step"),
        "reference_text": f"{ref[1]:.2f}% ({ref[0]}, {ref[2]})" if ref else "none published",
        "bna_zoo_version": _version(),
    }
    values.update({k: _text(training.get(k)) for k in TRAINING_FIELDS if k != "data_note"})
    # free prose about the data (e.g. emulated events); empty when there is nothing to add
    values["data_note"] = str(training.get("data_note") or "")
    for k in ("command", "eval_command"):  # shell lines read best as code
        if training.get(k) is not None:
            values[k] = f"`{training[k]}`"
    return values


def _version() -> str:
    from .. import __version__

    return __version__


def _split_front_matter(text: str, where: str) -> tuple[str, str]:
    if not text.startswith("---\n"):
        raise ValueError(f"{where}: a card must start with YAML front matter ('---')")
    front, sep, body = text[4:].partition("\n---\n")
    if not sep:
        raise ValueError(f"{where}: the YAML front matter is not closed by a '---' line")
    return front, body


def _drop_unmeasured(meta: dict[str, Any]) -> None:
    kept = []
    for model in meta.get("model-index") or []:
        results = []
        for result in model.get("results") or []:
            result["metrics"] = [m for m in result.get("metrics") or []
                                 if m.get("value") is not None]
            if result["metrics"]:
                results.append(result)
        if results:
            kept.append({**model, "results": results})
    if kept:
        meta["model-index"] = kept
    else:
        meta.pop("model-index", None)


def render_card(name: str, values: dict[str, str]) -> str:
    """Render ``model_cards/<name>.md`` with ``values`` (see :func:`card_values`).

    Raises:
        ValueError: a placeholder without a value, or front matter that is not valid YAML.
    """
    path = template_path(name)
    try:
        text = Template(path.read_text()).substitute(values)
    except (KeyError, ValueError) as err:
        raise ValueError(f"{path}: placeholder {err} has no value; fields: "
                         f"{', '.join(sorted(values))}") from None
    front, body = _split_front_matter(text, str(path))
    try:
        meta = yaml.safe_load(front)
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: front matter is not valid YAML after rendering: {err}") from None
    _drop_unmeasured(meta)
    return f"---\n{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)}---\n{body}"


def front_matter(card: str) -> dict[str, Any]:
    """The parsed YAML metadata of a rendered card."""
    return yaml.safe_load(_split_front_matter(card, "card")[0])
