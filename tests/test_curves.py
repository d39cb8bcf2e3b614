"""tools/curves.py: per-epoch accuracy curves of training runs, for docs/."""

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

_TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _tool(name: str):
    """Import ``tools/<name>.py`` (tools/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, _TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


curves = _tool("curves")


def _log(folder: Path, version: int, rows: list[tuple[int, float]]) -> None:
    """A CSVLogger metrics.csv with validation rows and a training row without val_acc."""
    path = folder / f"version_{version}" / "metrics.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "step", "train_loss", "val_acc"])
        for epoch, acc in rows:
            writer.writerow([epoch, 10, 0.5, ""])
            writer.writerow([epoch, 10, "", acc])


def test_curve_counts_a_continued_run_from_its_starting_epochs_and_later_versions_win(tmp_path):
    _log(tmp_path, 0, [(0, 0.90), (1, 0.91)])
    _log(tmp_path, 1, [(1, 0.915), (2, 0.92)])  # resumed: re-ran epoch index 1
    assert curves.curve(tmp_path) == pytest.approx({1: 90.0, 2: 91.5, 3: 92.0})
    assert curves.curve(tmp_path, start=75) == pytest.approx({76: 90.0, 77: 91.5, 78: 92.0})


def test_parse_run_reads_label_folder_and_optional_start():
    assert curves.parse_run("NA=runs/a/logs") == ("NA", Path("runs/a/logs"), 0)
    assert curves.parse_run("no aug, from 75=runs/b@x/logs@75") == (
        "no aug, from 75", Path("runs/b@x/logs"), 75)


@pytest.mark.parametrize("spec", ["runs/a/logs", "=runs/a", "NA=", "NA=runs/a@-3", "NA=runs/a@"])
def test_parse_run_refuses_a_malformed_run_naming_the_form(spec):
    with pytest.raises(SystemExit, match="LABEL=FOLDER|whole number"):
        curves.parse_run(spec)


def test_main_writes_one_epoch_axis_for_runs_that_continue_one_another(tmp_path, monkeypatch):
    _log(tmp_path / "a", 0, [(0, 0.80), (1, 0.85)])
    _log(tmp_path / "b", 0, [(0, 0.86)])
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", [
        "curves.py", "--run", f"first={tmp_path / 'a'}", "--run", f"then={tmp_path / 'b'}@1",
        "--out", str(out), "--reference", "92.83", "TSSL-BP",
    ])
    curves.main()
    rows = list(csv.reader(out.with_suffix(".csv").open()))
    assert rows == [["epoch", "first test acc %", "then test acc %"],
                    ["1", "80.00", ""], ["2", "85.00", "86.00"]]
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curve_takes_log_versions_in_numeric_order(tmp_path):
    _log(tmp_path, 2, [(0, 0.50)])
    _log(tmp_path, 10, [(0, 0.60)])  # the later run: "version_10" sorts before "version_2" as text
    assert curves.curve(tmp_path) == pytest.approx({1: 60.0})


def test_ship_history_reports_best_and_final_from_the_same_reader(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_TOOLS))  # as `python tools/ship.py` has it: imports curves
    ship = _tool("ship")
    _log(tmp_path, 2, [(0, 0.50), (1, 0.70)])
    _log(tmp_path, 10, [(1, 0.80), (2, 0.75)])
    assert ship.history(tmp_path) == ("best 80.00% after epoch 2 of 3; final epoch 75.00%", 3)


def test_curve_names_a_missing_log_folder(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        curves.curve(tmp_path / "nope")


def test_bna_zoo_plot_draws_runs_from_the_package_and_knows_test_validation(tmp_path):
    import subprocess
    import sys

    from bna_zoo.curves import read_metrics, validates_on_test

    for version, (val_size, accs) in enumerate([(0, [0.8, 0.9]), (10, [0.7, 0.85])]):
        run = tmp_path / "runs" / f"version_{version}"
        _log(run.parent, version, list(enumerate(accs)))
        (run / "config.yaml").write_text(f"data:\n  init_args:\n    val_size: {val_size}\n")
    first = tmp_path / "runs" / "version_0"
    assert validates_on_test(first) and not validates_on_test(tmp_path / "runs" / "version_1")
    assert read_metrics(first)["val_acc"] == pytest.approx({1: 80.0, 2: 90.0})
    result = subprocess.run([sys.executable, "-m", "bna_zoo", "plot", "runs/version_0",
                             "second=runs/version_1", "--out", "c.png"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    missing = subprocess.run([sys.executable, "-m", "bna_zoo", "plot", "nope"], cwd=tmp_path,
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "run folder nope does not exist" in missing.stderr
