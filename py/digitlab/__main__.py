"""The command line: python -m digitlab train | evaluate | export | import (see --help)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from digitlab.data.mnist import LABELS_FILE, SPRITE_FILE, MnistData
from digitlab.errors import DigitLabError
from digitlab.i18n import describe
from digitlab.nn import tfjs
from digitlab.nn.metrics import confusion_matrix, per_class_accuracy, predicted_classes
from digitlab.nn.optim import OPTIMIZERS, make_optimizer
from digitlab.nn.parallel import DataParallel, ReplicaLost
from digitlab.nn.processes import ProcessTransport, one_blas_thread
from digitlab.nn.sequential import TrainingDiverged, TrainingRun
from digitlab.nn.training import check_config
from digitlab.nn.weights import BadWeights, load, save
from digitlab.nn.zoo import ZOO, build_model
from digitlab.schema import TRAINING_DEFAULTS as DEFAULTS


class CliError(Exception):
    """A one-line error for stderr; exit code 2."""


def default_data_dir() -> Path:
    """$DIGITLAB_DATA, else the folder build.py caches the MNIST files in."""
    env = os.environ.get("DIGITLAB_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".cache" / "data"


def load_data(directory: Path, **split) -> MnistData:
    for name in (SPRITE_FILE, LABELS_FILE):
        if not (directory / name).is_file():
            raise CliError(f"data file not found: {directory / name} "
                           "(run `python build.py` to fetch it, or pass --data DIR)")
    return MnistData.from_dir(directory, **split)


class Progress:
    """A one-line progress bar on stderr: epoch, batch, loss, images/s, ETA."""

    def __init__(self, total_images: int, stream=sys.stderr) -> None:
        self.total, self.done, self.stream = total_images, 0, stream
        self.start = time.perf_counter()

    def update(self, event: dict) -> None:
        if event["kind"] == "epoch":
            val = "" if event["val_acc"] is None else f" val_acc {event['val_acc']:.4f}"
            self.stream.write(f"\repoch {event['epoch'] + 1}/{event['epochs']} "
                              f"loss {event['loss']:.4f} acc {event['acc']:.4f}{val}\033[K\n")
            return
        self.done += event["size"]
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        filled = int(30 * self.done / self.total)
        self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] "
                          f"epoch {event['epoch'] + 1}/{event['epochs']} "
                          f"batch {event['batch'] + 1}/{event['batches']} "
                          f"loss {event['loss']:.4f} {rate:.0f} img/s ETA {eta:.0f}s\033[K")
        self.stream.flush()


def test_report(model, data: MnistData) -> dict:
    """Accuracy, per-class accuracy and confusion on all 10000 test images."""
    images, labels = data.test_set()
    predictions = predicted_classes(model.predict(images))
    per_class, _ = per_class_accuracy(labels, predictions)
    return {
        "test_accuracy": float((predictions == labels).mean()),
        "per_class": per_class.tolist(),
        "confusion": confusion_matrix(labels, predictions).tolist(),
    }


def train(args: argparse.Namespace) -> dict:
    # The same checks and defaults as the page's train(), so both refuse a setting alike.
    check_config({"model": args.model, "trainSize": args.train_size,
                  "validationSize": args.validation_size, "epochs": args.epochs,
                  "batchSize": args.batch_size, "learningRate": args.learning_rate,
                  "learningRateDecay": args.learning_rate_decay, "optimizer": args.optimizer,
                  "seed": args.seed})
    if args.workers < 1:
        raise CliError(f"--workers must be at least 1, got {args.workers}")
    # The replica processes start first: they import NumPy while this one loads the data.
    with ProcessTransport(args.workers - 1) as transport:
        data = load_data(args.data, train_size=args.train_size,
                         validation_size=args.validation_size, seed=args.seed)
        model = build_model(args.model, seed=args.seed)
        model.compile(make_optimizer(args.optimizer, args.learning_rate))
        if not args.json:
            print(model.summary_text())
        x, y = data.train_set()
        validation = data.validation_set() if args.validation_size else None
        progress = Progress(len(x) * args.epochs)
        start = time.perf_counter()
        run = TrainingRun(model, x, y, args.batch_size, args.epochs, validation, args.seed,
                          learning_rate_decay=args.learning_rate_decay)
        sharing = args.workers > 1
        if sharing:
            model.parallel = DataParallel(model, transport)
        try:
            with run, (one_blas_thread() if sharing else contextlib.nullcontext()):
                for event in run:
                    progress.update(event)
            if sharing:
                model.parallel.finish()
        except TrainingDiverged:
            sys.stderr.write("\n")  # its message (main) starts on a line of its own
            raise
        except ReplicaLost as e:
            sys.stderr.write("\n")
            raise CliError(f"worker process {e.replica} ended during training "
                           "(its error, if it printed one, is above)") from None
        finally:
            model.parallel = None
        seconds = time.perf_counter() - start
    if args.save:
        Path(args.save).write_bytes(save(model, model.optimizer))
    result = {
        "model": args.model,
        "params": model.param_count(),
        "epochs": args.epochs,
        "train_size": args.train_size,
        "validation_size": args.validation_size,
        "history": run.history,
        "test_accuracy": test_report(model, data)["test_accuracy"],
        "seconds": round(seconds, 3),
        "workers": args.workers,
    }
    if not args.json:
        print(f"test accuracy {result['test_accuracy']:.4f} after {seconds:.1f}s of training")
    return result


def evaluate(args: argparse.Namespace) -> dict:
    model = read_weights(args.weights)
    report = test_report(model, load_data(args.data))
    if not args.json:
        print(f"test accuracy {report['test_accuracy']:.4f}")
        for digit, acc in enumerate(report["per_class"]):
            print(f"  {digit}: {acc:.4f}")
    return report


def read_weights(path: str):
    """The model of a weights file, or a one-line CliError."""
    try:
        model, _ = load(Path(path).read_bytes())
    except OSError as e:
        raise CliError(f"cannot read weights file {path}: {e.strerror}") from None
    except BadWeights as e:
        raise CliError(f"{path}: {describe(e, framed=False, segments=False)}") from None
    return model


def export(args: argparse.Namespace) -> dict:
    """A weights file as a TF.js Layers model: OUT/model.json and OUT/model.weights.bin."""
    model = read_weights(args.weights)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, data in tfjs.export_files(model).items():
            (out / name).write_bytes(data)
            written.append(str(out / name))
    except OSError as e:
        raise CliError(f"cannot write to {out}: {e.strerror}") from None
    if not args.json:
        print(f"wrote {' and '.join(written)}: load them with tf.loadLayersModel('model.json')")
    return {"format": args.format, "files": written, "params": model.param_count()}


def import_model(args: argparse.Namespace) -> dict:
    """A TF.js Layers model (model.json and the .bin files it names, beside it) as a weights
    file."""
    model_json = Path(args.model)
    try:
        files = {model_json.name: model_json.read_bytes()}
        names = tfjs.weight_paths(files[model_json.name])
        for name in names:
            path = model_json.parent / name
            if path.is_file():  # a missing one is refused by name below
                files[name] = path.read_bytes()
    except OSError as e:
        raise CliError(f"cannot read {e.filename}: {e.strerror}") from None
    try:
        model = tfjs.load_files(files)
    except tfjs.BadTfjs as e:
        raise CliError(f"{model_json}: {describe(e, framed=False, segments=False)}") from None
    try:
        Path(args.out).write_bytes(save(model))
    except OSError as e:
        raise CliError(f"cannot write {args.out}: {e.strerror}") from None
    if not args.json:
        print(f"wrote {args.out}: {model.name}, {model.param_count()} parameters")
    return {"format": args.format, "file": args.out, "model": model.name,
            "params": model.param_count(), "spec": model.spec()}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m digitlab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model, report test accuracy")
    t.add_argument("--model", choices=sorted(ZOO), default=DEFAULTS["model"])
    t.add_argument("--train-size", type=int, default=DEFAULTS["trainSize"])
    t.add_argument("--validation-size", type=int, default=DEFAULTS["validationSize"])
    t.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    t.add_argument("--batch-size", type=int, default=DEFAULTS["batchSize"])
    t.add_argument("--learning-rate", type=float, default=DEFAULTS["learningRate"])
    t.add_argument("--learning-rate-decay", type=float, default=DEFAULTS["learningRateDecay"],
                   help="multiply the learning rate by this after every epoch (extension)")
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=DEFAULTS["optimizer"])
    t.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    t.add_argument("--workers", type=int, default=1, metavar="N",
                   help="train on N processes, each with one BLAS thread: the batch split "
                        "between them (default 1: one process, BLAS on every core)")
    t.add_argument("--data", type=Path, default=default_data_dir())
    t.add_argument("--save", metavar="FILE")
    t.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    e = sub.add_parser("evaluate", help="test accuracy of a saved weights file")
    e.add_argument("--weights", required=True, metavar="FILE")
    e.add_argument("--data", type=Path, default=default_data_dir())
    e.add_argument("--json", action="store_true")
    x = sub.add_parser("export", help="a weights file as a TensorFlow.js Layers model")
    x.add_argument("--weights", required=True, metavar="FILE")
    x.add_argument("--format", choices=["tfjs"], default="tfjs")
    x.add_argument("--out", required=True, metavar="DIR",
                   help="writes DIR/model.json and DIR/model.weights.bin")
    x.add_argument("--json", action="store_true")
    i = sub.add_parser("import", help="a TensorFlow.js Layers model as a weights file")
    i.add_argument("--format", choices=["tfjs"], default="tfjs")
    i.add_argument("--model", required=True, metavar="DIR/model.json",
                   help="the .bin files it names are read from beside it")
    i.add_argument("--out", required=True, metavar="FILE.npz")
    i.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        commands = {"train": train, "evaluate": evaluate, "export": export,
                    "import": import_model}
        result = commands[args.command](args)
    except DigitLabError as e:  # a bad setting, data file or weights file, or divergence
        print(f"digitlab: error: {describe(e, framed=False, segments=False)}", file=sys.stderr)
        return 2
    except (CliError, ValueError) as e:
        print(f"digitlab: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, default=_json_default))
    return 0


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
