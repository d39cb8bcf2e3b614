"""tools/soup.py: a greedy weight soup chosen on validation only."""

import importlib.util
from pathlib import Path

import pytest
import torch

_SPEC = importlib.util.spec_from_file_location(
    "soup", Path(__file__).resolve().parents[1] / "tools" / "soup.py")
soup = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(soup)


def _state(w: float) -> dict[str, torch.Tensor]:
    return {"w": torch.tensor([w]), "b": torch.tensor([2 * w])}


def _closeness_to_one(state: dict[str, torch.Tensor]) -> float:
    """A stand-in validation score: higher the nearer ``w`` is to 1."""
    return 1.0 - abs(state["w"].item() - 1.0)


def test_average_is_the_elementwise_mean_of_every_tensor():
    mean = soup.average([_state(1.0), _state(2.0), _state(6.0)])
    assert torch.equal(mean["w"], torch.tensor([3.0]))
    assert torch.equal(mean["b"], torch.tensor([6.0]))


def test_average_refuses_checkpoints_of_different_networks():
    with pytest.raises(SystemExit, match="not one network"):
        soup.average([_state(1.0), {"w": torch.tensor([1.0])}])


def test_greedy_soup_keeps_an_ingredient_only_when_validation_does_not_fall():
    scored = [(_closeness_to_one(s), name, s)
              for name, s in [("a", _state(1.4)), ("b", _state(0.8)), ("c", _state(3.0))]]
    lines = []
    kept, acc = soup.greedy_soup(scored, _closeness_to_one, lines.append)
    # b validates best and starts; b+a (w=1.1) validates higher: kept; b+a+c (w=1.73) lower
    assert kept == ["b", "a"]
    assert acc == pytest.approx(0.9)
    assert [line.split()[0] for line in lines] == ["add", "skip"]


def test_greedy_soup_of_one_ingredient_is_that_ingredient():
    kept, acc = soup.greedy_soup([(0.5, "only", _state(0.5))], _closeness_to_one, print)
    assert (kept, acc) == (["only"], 0.5)


def test_score_from_name_reads_the_validation_lightning_wrote_into_the_file_name():
    assert soup.score_from_name("ck/epoch-epoch=046-val_acc=0.9932.ckpt") == 0.9932
    assert soup.score_from_name("best-epoch=3-val_acc=1.0000.ckpt") == 1.0


def test_score_from_name_refuses_a_name_without_one_and_names_the_fix():
    with pytest.raises(SystemExit, match="last.ckpt: no val_acc=<number>.*drop --scores"):
        soup.score_from_name("runs/x/last.ckpt")
