"""Model cards from one template, through ``huggingface_hub``'s ``ModelCard``.

A card is rendered from a checkpoint's ``config.json`` (self-describing: architecture, input,
labels, metrics, how the run was made) plus, when the name is in the zoo, the entry's summary
and published reference. The Hub metadata (``library_name``, ``license``, ``tags``,
``datasets``, ``model-index``) is a ``ModelCardData`` with an ``EvalResult`` per measured number,
so ``model-index`` is valid by construction and names the data the number was measured on
(``measured_on``), not merely the benchmark. The text is ``bna_zoo/model_cards/template.md``
(Jinja2, as ``ModelCard.from_template`` renders it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.catalog import DATASETS

TEMPLATE = Path(__file__).resolve().parents[1] / "model_cards" / "template.md"
#: how a run was made: keys of config.json's "training" and of save_pretrained(**card_fields)
TRAINING_FIELDS = ("command", "eval_command", "hardware", "wall_time", "epochs", "seed",
                   "history", "note", "measured_on", "measured_on_id", "split")
_METRIC_ALIASES = {"test_acc": "accuracy", "test_rate": "firing_rate", "test_loss": "loss"}
_TAGS = ["spiking-neural-network", "snn", "neuromorphic", "bna", "neighborhood-aggregation", "lif"]


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


def gradient_text(init_args: dict[str, Any]) -> str:
    """How the weights were trained, in words (NA variant, clip, rescale)."""
    if init_args.get("gradient", "na") != "na":
        return f"{init_args['gradient']} gradient (not NA)"
    variant = init_args.get("variant", "official")
    words = {"official": "official variant (the form in the authors' released code)",
             "paper": f"paper variant (the form of the paper, clip {init_args.get('clip')})"}
    rescale = "on" if init_args.get("rescale", True) else "off"
    return f"NA, {words.get(variant, variant)}; layer-wise gradient rescale {rescale}"


def _text(value: Any, fmt: str = "{}") -> str:
    return "not recorded" if value is None else fmt.format(value)


def _cost_rows(metrics: dict[str, Any]) -> str:
    """Table rows of the NeuroBench costs (``bna_zoo.metrics.measure``), when measured."""
    rows = []
    if metrics.get("synops") is not None:
        split = ""
        if metrics.get("synops_ac") is not None and metrics.get("synops_mac") is not None:
            split = f"{metrics['synops_ac']:,.0f} AC + {metrics['synops_mac']:,.0f} MAC; "
        rows.append(f"| Synaptic operations per sample | {metrics['synops']:,.0f} ({split}"
                    "accumulates and multiply-accumulates, as NeuroBench counts them on the "
                    "network as built: docs/metrics.md of bna_zoo) |")
    if metrics.get("synops_dense") is not None:
        rows.append(f"| Dense synaptic operations per sample | {metrics['synops_dense']:,.0f} "
                    "(every synapse at every step) |")
    if metrics.get("activation_sparsity") is not None:
        rows.append(f"| Activation sparsity | {metrics['activation_sparsity']:.4f} |")
    if metrics.get("footprint_bytes") is not None:
        rows.append(f"| Footprint | {metrics['footprint_bytes']:,.0f} bytes |")
    if metrics.get("connection_sparsity") is not None:
        rows.append(f"| Connection sparsity | {metrics['connection_sparsity']:.4f} |")
    return "\n".join(rows)


def card_values(config: dict[str, Any]) -> dict[str, str]:
    """Every ``{{ field }}`` of the template, as strings, from a checkpoint's ``config.json``
    (format 3, :mod:`.config_format`)."""
    from .. import __version__
    from ..models.config import NetConfig
    from ..models.zoo import ZOO
    from .config_format import input_spec

    name, init, net = config["name"], config.get("training_args") or {}, config["model_args"]
    num_classes = NetConfig.from_dict(net).num_classes
    entry = ZOO.get(name)
    metrics, training = config.get("metrics") or {}, config.get("training") or {}
    dataset = config.get("dataset") or (entry.dataset if entry else "its data")
    info = DATASETS.get(dataset)
    spec = input_spec(config)
    acc, rate = metrics.get("accuracy"), metrics.get("firing_rate")
    shape = "x".join(str(d) for d in net["input_shape"])
    dims = ", ".join(str(d) for d in net["input_shape"])
    events = net.get("input_kind") == "events"
    ref = entry.reference if entry else None
    loss_args = net.get("loss_args") or {}
    labels = config.get("labels")
    values = {
        "model_name": name,
        "repo_id": f"bna-zoo/{name}",
        "dataset": dataset,
        "summary": entry.summary if entry and entry.summary else f"A `{net['arch']}` network.",
        "arch": net["arch"],
        "input_text": spec.describe() if spec else f"{shape} per step",
        "input_layout": f"[B, T, {dims}]" if events else f"[B, {dims}]` or `[B, T, {dims}]",
        "usage_input": (f"event frames [B, T, {dims}] or raw event recordings" if events else
                        f"images [B, {dims}]: uint8 pixels, PIL images, or floats in [0, 1]"),
        "n_steps": str(net["n_steps"]),
        "tau_m": f"{net['tau_m']:g}", "tau_s": f"{net['tau_s']:g}", "theta": f"{net['theta']:g}",
        "gradient": init.get("gradient", "na"), "variant": init.get("variant", "official"),
        "rescale": str(init.get("rescale", True)).lower(),
        "gradient_text": gradient_text(init),
        "loss": (f"{net['loss']} ({', '.join(f'{k} {v:g}' for k, v in loss_args.items())})"
                 if loss_args else str(net["loss"])),
        "n_params": f"{config.get('n_params', 0):,}",
        "num_classes": str(num_classes),
        "labels": ", ".join(labels) if labels else f"class indices 0..{num_classes - 1}",
        "accuracy_text": "not measured yet" if acc is None else f"{100 * acc:.2f}%",
        "measured_on": training.get("measured_on") or (
            f"{dataset}, {training.get('split', 'test')} split" if acc is not None else "-"),
        "firing_rate_text": _text(rate, "{:.4f} spikes per neuron per step"),
        "reference_text": f"{ref[1]:.2f}% ({ref[0]}, {ref[2]})" if ref else "none published",
        "bna_zoo_version": __version__,
        "dataset_about": info.about if info else "",
        "note": str(training.get("note") or ""),
        "cost_rows": _cost_rows(metrics),
    }
    for key in ("command", "eval_command", "hardware", "wall_time", "epochs", "seed", "history"):
        values[key] = _text(training.get(key))
    for key in ("command", "eval_command"):  # shell lines read best as code
        if training.get(key) is not None:
            values[key] = f"`{training[key]}`"
    return values


def card_data(config: dict[str, Any]):
    """The Hub metadata of a checkpoint as a ``huggingface_hub.ModelCardData``."""
    from huggingface_hub import EvalResult, ModelCardData

    from ..models.zoo import ZOO

    name = config["name"]
    entry = ZOO.get(name)
    dataset = config.get("dataset") or (entry.dataset if entry else None)
    info = DATASETS.get(dataset)
    metrics, training = config.get("metrics") or {}, config.get("training") or {}
    results = None
    if metrics.get("accuracy") is not None:
        measured = training.get("measured_on")
        results = [EvalResult(
            task_type="image-classification", task_name="Image Classification",
            # the data the number was measured on: a stand-in is never reported as the benchmark
            dataset_type=(training.get("measured_on_id") or "custom") if measured
            else (info.hub_id if info else "custom"),
            dataset_name=measured or (info.name if info else "custom"),
            dataset_split=training.get("split", "test"),
            metric_type="accuracy", metric_name="Top-1 accuracy (%)",
            metric_value=round(100 * metrics["accuracy"], 2),
        )]
    return ModelCardData(
        library_name="bna_zoo", license=entry.license if entry else "mit",
        tags=_TAGS + list(info.tags if info else ()),
        datasets=[info.hub_id] if info else None, pipeline_tag="image-classification",
        model_name=name, eval_results=results,
    )


def render_card(config: dict[str, Any]) -> str:
    """The ``README.md`` of a checkpoint folder, from its ``config.json`` content."""
    from huggingface_hub import ModelCard

    card = ModelCard.from_template(card_data(config), template_path=str(TEMPLATE),
                                   **card_values(config))
    return str(card).rstrip() + "\n"


def front_matter(card: str) -> dict[str, Any]:
    """The parsed Hub metadata of a rendered card (``model-index`` included)."""
    from huggingface_hub import ModelCard

    return ModelCard(card).data.to_dict()
