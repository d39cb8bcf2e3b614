"""``HubIO``: the Hub side of ``BNAModel``, on ``huggingface_hub``'s ``ModelHubMixin``.

The mixin's hooks (``_from_pretrained``, ``_save_pretrained``) and ``push_to_hub`` (its
``upload_folder``) are used as the library means them; what is better than its defaults is
bna_zoo's own (:mod:`bna_zoo.hub`): zoo names resolved to a pinned revision with the sha256 the
zoo records and a shipped fallback, a local folder that shadows a zoo name refused, safetensors
only, atomic folder writes, and a card already on the Hub kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import ModelHubMixin

from .. import hub


class HubIO(
    ModelHubMixin, library_name="bna_zoo", license="mit",
    pipeline_tag="image-classification", paper_url="https://arxiv.org/abs/2107.06861",
    tags=["spiking-neural-network", "snn", "neuromorphic", "bna"],
):
    """Hub I/O for a model with ``net``, ``hparams``, ``labels`` and ``input_spec``."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, *,
                        revision: str | None = None, **kwargs: Any) -> HubIO:
        """Load a trained model in eval mode: zoo name, ``org/repo[@rev]`` or a folder.

        Resolution is bna_zoo's own (see :func:`bna_zoo.hub.resolve`): zoo names go to their
        pinned Hub revision with the sha256 the zoo records and fall back to the copy shipped in
        the package; a local folder that shadows a zoo name is refused; the ``zoo:``,
        ``hf-hub:`` and ``local-dir:`` prefixes say which is meant. Weights load strictly from
        safetensors only, their sha256 checked, non-finite weights refused.

        Raises:
            KeyError: unknown name (close matches listed).
            ValueError: a local folder shadows the name; :class:`bna_zoo.hub.IntegrityError`
                for a wrong sha256, damaged or non-finite weights, a config that does not fit.
            FileNotFoundError: missing folder or file (a ``.ckpt`` is pointed to
                :meth:`from_lightning_checkpoint`).
            HubUnavailableError: the Hub could not give the files.
        """
        return cls._from_pretrained(model_id=str(pretrained_model_name_or_path),
                                    revision=revision, **kwargs)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision: str | None = None,
                         **kwargs: Any) -> HubIO:
        # the ModelHubMixin hook; cache_dir/token/... of the mixin's signature are the Hub
        # client's settings (HF_HOME, HF_TOKEN) here
        unused = {k for k, v in kwargs.items() if v not in (None, False)}
        if unused:
            raise TypeError(f"from_pretrained got unsupported arguments {sorted(unused)}; set "
                            f"HF_HOME/HF_TOKEN/HF_HUB_OFFLINE for the Hub client instead")
        return hub.load_folder(cls, model_id, revision)

    @classmethod
    def from_lightning_checkpoint(cls, path: str | Path, name: str | None = None) -> HubIO:
        """Rebuild a model from a Lightning ``.ckpt`` (weights only, strict), in eval mode.

        Args:
            path: the ``.ckpt`` file.
            name: expected zoo name; a checkpoint of another one is refused.
        """
        return hub.load_lightning_checkpoint(cls, path, name)

    def save_pretrained(self, save_directory: str | Path, *,
                        metrics: dict[str, float] | None = None, repo_id: str | None = None,
                        config: dict | None = None,
                        model_card_kwargs: dict[str, Any] | None = None,
                        dataset: str | None = None, **card_fields: Any) -> Path:
        """Write ``config.json``, ``model.safetensors`` and a ``README.md`` card, atomically.

        Args:
            save_directory: created, or replaced as a whole (files that are not ours survive).
            metrics: measured numbers: ``accuracy`` (fraction), ``firing_rate``, ``loss``.
            repo_id: unused (the mixin's argument; the card names ``bna-zoo/<name>``).
            config: unused (``config.json`` is always derived from the model).
            model_card_kwargs: more card fields (what ``push_to_hub`` passes through).
            dataset: the name of the data it was trained on; default: its zoo entry's.
            **card_fields: how the run was made: ``command``, ``eval_command``, ``hardware``,
                ``wall_time``, ``epochs``, ``seed``, ``history``, ``note``, ``measured_on``...

        Returns:
            The folder.
        """
        fields = {**(model_card_kwargs or {}), **card_fields}
        metrics = fields.pop("metrics", None) if metrics is None else metrics
        return hub.save_folder(self, save_directory, metrics=metrics, training=fields,
                               dataset=dataset)

    def _save_pretrained(self, save_directory: Path) -> None:  # the ModelHubMixin hook
        self.save_pretrained(save_directory)

    def push_to_hub(self, repo_id: str, *, overwrite_card: bool = False,
                    metrics: dict[str, float] | None = None,
                    model_card_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> str:
        """Upload to the Hub (``ModelHubMixin.push_to_hub``) without replacing a curated card.

        A ``README.md`` already in the repo is kept unless ``overwrite_card`` (a card edited on
        the Hub must not be replaced by a re-rendered one). ``kwargs``: the mixin's
        (``commit_message``, ``private``, ``token``, ``branch``, ``create_pr``...).

        Returns:
            The commit URL.
        """
        if not overwrite_card and hub.has_card(repo_id, kwargs.get("branch"), kwargs.get("token")):
            ignore = kwargs.get("ignore_patterns") or []
            kwargs["ignore_patterns"] = [*([ignore] if isinstance(ignore, str) else ignore),
                                         hub.CARD_NAME]
        fields = {**(model_card_kwargs or {}), "metrics": metrics}
        return super().push_to_hub(repo_id, model_card_kwargs=fields, **kwargs)
