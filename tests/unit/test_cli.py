import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(REPO / "py")}
    return subprocess.run([sys.executable, "-m", "digitlab", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600)


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def codelab_run(data_dir, tmp_path_factory):
    """The codelab configuration through the CLI with its defaults (tutorial, 5500, 10 x 512)."""
    weights = tmp_path_factory.mktemp("cli") / "tutorial.npz"
    # Run from another folder: --data must default to the repo's .cache/data, not the cwd.
    result = run_cli("train", "--json", "--save", str(weights), cwd=weights.parent)
    return result, weights


def test_codelab_configuration_trains_to_90_percent(codelab_run):
    result, weights = codelab_run
    assert result.returncode == 0, result.stderr[-2000:]
    report = last_json(result.stdout)
    assert report["model"] == "tutorial" and report["params"] == 5994
    assert (report["epochs"], report["train_size"], report["validation_size"]) == (10, 5500, 1000)
    assert report["test_accuracy"] >= 0.90
    assert report["seconds"] > 0
    history = report["history"]
    assert len(history["loss"]) == len(history["val_acc"]) == 10
    assert len(history["batches"]) == 10 * 11 and set(history["batches"][0]) == {"loss", "acc"}
    assert history["loss"][-1] < history["loss"][0]
    assert "img/s" in result.stderr and "ETA" in result.stderr
    assert weights.stat().st_size > 5994 * 4


def test_evaluate_reports_the_same_accuracy(codelab_run):
    result, weights = codelab_run
    evaluated = run_cli("evaluate", "--weights", str(weights), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    report = last_json(evaluated.stdout)
    assert report["test_accuracy"] == last_json(result.stdout)["test_accuracy"]
    confusion = report["confusion"]
    assert len(confusion) == 10 and sum(map(sum, confusion)) == 10000
    assert sum(confusion[i][i] for i in range(10)) == round(report["test_accuracy"] * 10000)
    assert len(report["per_class"]) == 10 and min(report["per_class"]) > 0.7


def test_missing_data_is_a_one_line_error(tmp_path):
    result = run_cli("train", "--data", str(tmp_path), "--epochs", "1")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "mnist_images.png" in result.stderr and "build.py" in result.stderr


def test_bad_weights_are_a_one_line_error(tmp_path, data_dir):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    result = run_cli("evaluate", "--weights", str(bad), "--data", str(data_dir))
    assert result.returncode == 2 and "not a .npz" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    missing = run_cli("evaluate", "--weights", str(tmp_path / "nope.npz"))
    assert missing.returncode == 2 and "nope.npz" in missing.stderr


def test_bad_split_is_a_one_line_error(data_dir):
    result = run_cli("train", "--train-size", "55000", "--data", str(data_dir))
    assert result.returncode == 2 and "trainSize" in result.stderr


def test_help_lists_the_contract_flags():
    out = run_cli("train", "--help").stdout
    for flag in ["--model", "--train-size", "--validation-size", "--epochs", "--batch-size",
                 "--learning-rate", "--optimizer", "--seed", "--data", "--save", "--json",
                 "--workers"]:
        assert flag in out


def test_workers_share_each_batch_and_train_as_one_process(codelab_run):
    """--workers 2: each batch split over this process and one replica process. The same
    batches as one process; the shards' gradients are summed in another order, which moves
    the losses by float32 rounding only (seen: 1.8e-7 of the loss over these 22 steps)."""
    result = run_cli("train", "--json", "--epochs", "2", "--workers", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    report = last_json(result.stdout)
    assert report["workers"] == 2
    one = last_json(codelab_run[0].stdout)
    assert one["workers"] == 1
    losses = [batch["loss"] for batch in report["history"]["batches"]]
    expected = [batch["loss"] for batch in one["history"]["batches"][: len(losses)]]
    assert len(losses) == 2 * 11
    np.testing.assert_allclose(losses, expected, rtol=2e-5, atol=0)


def test_workers_below_one_is_a_one_line_error(data_dir):
    result = run_cli("train", "--workers", "0", "--data", str(data_dir))
    assert result.returncode == 2 and "--workers must be at least 1, got 0" in result.stderr
    assert result.stderr.strip().count("\n") == 0
