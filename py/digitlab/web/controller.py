"""The lab's controller: answers the page's calls and draws its canvases, in the worker.

The page's steps, in the tutorial's order: data (boot, examples), model (summary), train,
evaluate, try it (pad, filters), model files. It imports nothing from the browser: the canvases,
`post` (a message to the page), `yield_now` (let the worker receive messages) and `take_stop`
(was Stop pressed?) are handed in, by `web/worker.py` in the browser and by fakes in the unit
tests; the numeric work is the same code the CLI runs under CPython.
"""

from __future__ import annotations

import gc
import math
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlab import backend
from digitlab.backend import wasm
from digitlab.data.mnist import NUM_TEST, MnistData
from digitlab.data.preprocess import mnist_preprocess
from digitlab.errors import ConfigError, DigitLabError, error
from digitlab.i18n import describe
from digitlab.nn import metrics, plan, weights
from digitlab.nn.optim import make_optimizer
from digitlab.nn.sequential import Sequential, TrainingDiverged, TrainingRun, summarize
from digitlab.nn.spec import INPUT_SHAPE, SpecError, parse_spec
from digitlab.nn.training import check_config, model_error
from digitlab.nn.zoo import ZOO, build_model
from digitlab.schema import LANGUAGES, TRAINING_DEFAULTS
from digitlab.web import sources, views
from digitlab.web.canvas import CanvasSet

CHART_INTERVAL_S = 0.25  # redraw live charts at most 4 times a second: drawing is not free
# What may run while a model trains (the page's own guard rejects the rest first): reading
# memory, for the leak tests, and a language switch, which only draws the canvases again (so
# the live charts change language at once). Anything else would see, or change, a model
# mid-batch.
CALLS_WHILE_TRAINING = frozenset({"memory", "simdInfo", "setLanguage"})


class Outgoing:
    """What a call returns when its answer is bytes (a weights file) rather than JSON."""

    def __init__(self, data: bytes) -> None:
        self.data = data


@dataclass(frozen=True)
class Download:
    """A file the worker fetched for Python: `data` is None unless `ok`."""

    ok: bool
    status: int
    data: bytes | None


Post = Callable[[dict], None]


def failure(problem: DigitLabError, lang: str, **extra: Any) -> dict:
    """A refused call's reply: the error's data, and its message in the page's language."""
    data = {**problem.to_dict(), **extra}
    return {"ok": False, **data, "message": describe(data, lang)}


def model_from(spec: Any, seed: int = 0) -> Sequential:
    try:
        return build_model(spec, seed=seed)
    except SpecError as problem:
        raise model_error(problem.to_dict()) from None


def summary_of(spec: Any) -> dict:
    """The summary table of a zoo name or layer list, from shapes alone (nothing allocated)."""
    try:
        layers = parse_spec(ZOO.get(spec, spec) if isinstance(spec, str) else spec)
    except SpecError as problem:
        raise model_error(problem.to_dict()) from None
    return summarize(layers, INPUT_SHAPE)


# ---------------------------------------------------------------- the app

class Controller:
    """One per worker. `call_<method>` answers the page's `window.digitlab.<method>`."""

    def __init__(self, canvases: CanvasSet, settings: dict, post: Post,
                 yield_now: Callable[[], Awaitable[Any]], take_stop: Callable[[], bool]) -> None:
        self.settings = settings
        self.lang = self.settings.get("lang", "en")
        self.canvases = canvases
        self.post, self.yield_now, self.take_stop = post, yield_now, take_stop
        self.training = False
        self.data: MnistData | None = None
        self.model: Sequential | None = None
        self.history: dict | None = None
        self.evaluation: dict | None = None
        self.pad_image: np.ndarray | None = None
        self.inspected: int | None = None  # a test image chosen for the feature maps
        # Bytes a call produced, by call token: calls interleave at every await, so one
        # shared slot would hand one call's bytes to another.
        self.outgoing: dict[int, bytes] = {}
        self.next_token = 0
        views.attach(canvases, post)  # where the canvases' alt texts go

    # ------------------------------------------------------------ 1. data

    async def boot(self, sprite_download: Awaitable[Download], labels_download: Awaitable[Download],
                   kernel_downloads: dict[str, Awaitable[Download]] | None = None) -> dict:
        """Decode the data, load the kernels, draw the data step: {ok, value | code, stage,
        message}."""
        try:
            sprite = await bytes_of(sprite_download, "mnist_images.png", "DATA_SPRITE")
            labels = await bytes_of(labels_download, "mnist_labels_uint8", "DATA_LABELS")
            self.data = MnistData.from_bytes(sprite, labels)  # DataError: DATA_SPRITE/LABELS
            await self.load_kernels(kernel_downloads)
            self.draw_data_step()
            summary = self.call_summary({"model": "tutorial"}, None)
            return {"ok": True, "value": {"examples": self.examples(), "summary": summary}}
        except DigitLabError as problem:
            return failure(problem, self.lang, stage="data")
        except Exception as exception:
            traceback.print_exc()
            return failure(error("RUNTIME", "exception", exception=type(exception).__name__,
                                 detail=str(exception)), self.lang, stage="data")

    async def load_kernels(self, downloads: dict[str, Awaitable[Download]] | None) -> None:
        """Make the WebAssembly SIMD kernels the backend, before any training can start, so a
        seeded run always takes the same path. Without them, NumPy stays.

        `downloads` maps each variant to a download the worker started at once, like the data's.
        """
        choice = self.settings.get("simd", "plain")
        if choice == "off" or downloads is None:
            return
        paths = {}
        for variant in ("plain", "relaxed") if choice == "relaxed" else ("plain",):
            try:
                data = await bytes_of(downloads[variant], f"gemm_{variant}.wasm", "RUNTIME")
                paths[variant] = f"/tmp/gemm_{variant}.so"
                with open(paths[variant], "wb") as file:
                    file.write(data)
            except Exception as error:  # noqa: BLE001 - a missing kernel means the NumPy path
                wasm.note_failure(variant, f"download: {type(error).__name__}: {error}")
        if "plain" in paths:
            wasm.load(paths["plain"], paths.get("relaxed"), relaxed=choice == "relaxed")

    def call_simdInfo(self, args: dict, payload: Any) -> dict:
        return wasm.info()

    def call_simdVerify(self, args: dict, payload: Any) -> dict:
        return wasm.verify(int(args.get("cases", 2000)), int(args.get("seed", 0)))

    def call_setGemmBackend(self, args: dict, payload: Any) -> dict:
        name = args.get("name")
        if name not in backend.backends():
            raise ConfigError("choice", field="backend", value=name,
                              choices=sorted(backend.backends()))
        backend.set_backend(name)
        return wasm.info()

    def examples(self) -> list[dict]:
        """The example panel's digits, with where each is drawn on the canvas."""
        indices, labels = self.data.examples()
        layout = views.example_layout(len(indices))
        return [{"index": int(i), "label": int(label), "x": layout.tile_origin(n)[0],
                 "y": layout.tile_origin(n)[1], "scale": layout.scale}
                for n, (i, label) in enumerate(zip(indices, labels, strict=True))]

    def draw_data_step(self) -> None:
        views.draw_examples(self.canvases, self.data, self.lang)
        views.draw_class_balance(self.canvases, self.data, self.lang)

    # ------------------------------------------------------------ calls

    async def call(self, method: str, args: dict | None, payload: bytes | None = None) -> dict:
        """Dispatch one call from the page: {ok: true, value, bytes: token | None}, or
        {ok: false, code, message}."""
        handler = getattr(self, f"call_{method}", None)
        try:
            if handler is None:
                raise error("INTERNAL", "unknown_method", value=method)
            if self.training and method not in CALLS_WHILE_TRAINING:
                raise error("BUSY", "training")
            value = handler(args or {}, payload)
            if hasattr(value, "__await__"):
                value = await value
            token = None
            if isinstance(value, Outgoing):
                token, self.next_token = self.next_token, self.next_token + 1
                self.outgoing[token], value = value.data, None
            return {"ok": True, "value": json_safe(value), "bytes": token}
        except DigitLabError as problem:
            return failure(problem, self.lang)
        except Exception as exception:
            traceback.print_exc()
            return failure(error("INTERNAL", "exception", exception=type(exception).__name__,
                                 detail=str(exception)), self.lang)

    def take_bytes(self, token: int) -> bytes:
        """The bytes the call with this token produced (a weights file)."""
        return self.outgoing.pop(token)

    def call_memory(self, args: dict, payload: Any) -> dict:
        """Python-side memory, for leak checks (wasm memory itself never shrinks).

        `{"trace": true}` starts tracemalloc, which also sees NumPy's array buffers.
        """
        import tracemalloc  # here: only the leak tests use it, and it would slow the boot

        gc.collect()
        if args.get("trace") and not tracemalloc.is_tracing():
            tracemalloc.start()
        traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None
        return {"objects": len(gc.get_objects()), "blocks": sys.getallocatedblocks(),
                "tracedBytes": traced}

    def call_examples(self, args: dict, payload: Any) -> list[dict]:
        return self.examples()

    def call_setLanguage(self, args: dict, payload: Any) -> list[str]:
        """Word everything in `lang` from now on, and draw every canvas again in it."""
        lang = args.get("lang")
        if lang not in LANGUAGES:
            raise ConfigError("choice", field="lang", value=lang, choices=list(LANGUAGES))
        self.lang = lang
        return self.redraw()

    def redraw(self) -> list[str]:
        """Every canvas that shows something, drawn again in self.lang (with its alt text): what
        it shows, not what the state would draw now, so no state can be left out. Also while a
        model trains: it only paints. Returns the canvases drawn."""
        return views.redraw(self.canvases, self.lang)

    # ------------------------------------------------------------ 2. model

    def call_summary(self, args: dict, payload: Any) -> dict:
        spec = args.get("model", "tutorial")
        if spec != "current":
            self.check_plan(spec, None)  # never allocate a model the budget cannot hold
        if spec == "current" and self.model:
            return self.model.summary()
        return summary_of(spec)

    def memory_budget(self) -> int | None:
        """Bytes a model may need for training, from the browser's memory (js/budget.js)."""
        budget = self.settings.get("memoryBudget")
        ok = isinstance(budget, int | float) and not isinstance(budget, bool) and budget > 0
        return int(budget) if ok else None

    def plan_for(self, spec: Any, batch_size: int | None) -> dict:
        result = plan.check(spec, batch_size, self.memory_budget())
        for problem in result["problems"]:
            problem["message"] = describe(problem, self.lang, framed=False)
        return result

    def check_plan(self, spec: Any, batch_size: int | None) -> None:
        """BAD_CONFIG naming the model's layer and problem, before anything is allocated."""
        result = plan.check(spec, batch_size, self.memory_budget())
        if not result["ok"]:
            raise model_error(result["problems"][0])

    def call_plan(self, args: dict, payload: Any) -> dict:
        """The builder's live check: {ok, problems, estimate, budget, summary (when ok)}.

        Problems are values, not errors: the form explains them; the banner is for actions.
        """
        batch_size = args.get("batchSize")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            batch_size = TRAINING_DEFAULTS["batchSize"]
        spec = args.get("model", "tutorial")
        result = self.plan_for(spec, batch_size)
        result["budget"] = self.memory_budget()
        result["summary"] = summary_of(spec) if result["ok"] else None
        # The layer list, so the builder can start from a zoo model.
        result["spec"] = plan.ZOO.get(spec, spec) if isinstance(spec, str) else spec
        return result

    def call_source(self, args: dict, payload: Any) -> list[dict]:
        """The Python a step of the page runs, read from the loaded package (sources.py)."""
        step = args.get("step")
        if step not in sources.STEPS:
            raise ConfigError("choice", field="step", value=step, choices=list(sources.STEPS))
        return sources.step_sources(step)

    # ------------------------------------------------------------ 3. train

    async def call_train(self, args: dict, payload: Any) -> dict:
        config = check_config(args)
        if not (config["continue"] and self.model is not None):
            self.check_plan(config["model"], config["batchSize"])
        self.prepare_model(config)
        self.data.split(config["trainSize"], config["validationSize"], config["seed"])
        self.take_stop()  # a Stop pressed before this run started is not for it
        run = TrainingRun(
            self.model, *self.data.train_set(), batch_size=config["batchSize"],
            epochs=config["epochs"], validation_data=self.data.validation_set(),
            seed=config["seed"], learning_rate_decay=config["learningRateDecay"],
            keep_checkpoints=True)
        self.history = run.history
        meter = views.ProgressMeter(config["trainSize"], config["epochs"])
        last_draw = 0.0
        self.training = True
        try:
            for event in run:
                now = time.perf_counter()
                if event["kind"] == "epoch" or now - last_draw > CHART_INTERVAL_S:
                    views.draw_training(self.canvases, run.history, self.lang)
                    last_draw = time.perf_counter()
                self.post(meter.progress(event, run.history, self.lang))
                await self.yield_now()  # lets the worker receive a Stop
                if self.take_stop():
                    break
        except TrainingDiverged as diverged:
            # The engine restored the weights of the batch before; those can already be huge,
            # so go back to the last point known to be good.
            good = run.last_good
            good.restore(self.model)
            raise error("DIVERGED", "restored_epoch" if good.epoch else "restored_start",
                        restored_epoch=good.epoch, **diverged.params) from None
        finally:
            self.training = False
            run.close()
            views.draw_training(self.canvases, run.history, self.lang)
            self.draw_pad_views()
        return run.history

    def prepare_model(self, config: dict) -> None:
        """A fresh model, or (continue) the current one with its optimiser state."""
        if config["continue"] and self.model is not None:
            if self.model.optimizer is None:
                self.model.compile(make_optimizer(config["optimizer"], config["learningRate"]))
            self.model.optimizer.learning_rate = config["learningRate"]
            return
        model = model_from(config["model"], seed=config["seed"])
        model.compile(make_optimizer(config["optimizer"], config["learningRate"]))
        self.model = model
        self.evaluation = None

    # ------------------------------------------------------------ 4. evaluate

    def require_model(self) -> Sequential:
        if self.model is None:
            raise error("NO_MODEL", "no_model")
        return self.model

    def call_evaluate(self, args: dict, payload: Any) -> dict:
        size = args.get("size", NUM_TEST)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= NUM_TEST:
            raise ConfigError("range", field="size", value=size, limits=[1, NUM_TEST])
        self.require_model()
        self.draw_evaluation(size)
        result = self.evaluation
        return {"accuracy": result["accuracy"], "perClass": result["perClass"],
                "counts": result["counts"], "confusion": result["confusion"],
                "predictions": result["predictions"],
                "predictSeconds": result["predictSeconds"]}

    def draw_evaluation(self, size: int) -> None:
        images, labels = self.data.test_set(size)
        if self.evaluation is None or self.evaluation["size"] != size:
            start = time.perf_counter()
            probabilities = self.model.predict(images)
            predict_seconds = time.perf_counter() - start
            predicted = probabilities.argmax(axis=1)
            per_class, counts = metrics.per_class_accuracy(labels, predicted)
            self.evaluation = {
                "size": size, "probabilities": probabilities,
                "accuracy": metrics.accuracy(labels, predicted),
                "perClass": [float(v) for v in per_class], "counts": [int(c) for c in counts],
                "confusion": metrics.confusion_matrix(labels, predicted).tolist(),
                "predictions": [int(p) for p in predicted],
                "predictSeconds": predict_seconds,  # the model alone, for the benchmark
            }
        views.draw_evaluation(self.canvases, images, labels, self.evaluation, self.lang)

    def call_predict(self, args: dict, payload: Any) -> list[float]:
        pixels = np.asarray(args.get("pixels", []), dtype=np.float32)
        if pixels.shape != (784,) or not np.isfinite(pixels).all():
            raise ConfigError("pixels", field="pixels")
        model = self.require_model()
        return [float(p) for p in model.predict(np.clip(pixels, 0, 1).reshape(1, 784))[0]]

    def call_testImage(self, args: dict, payload: Any) -> dict:
        index = args.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < NUM_TEST:
            raise ConfigError("range", field="index", value=index, limits=[0, NUM_TEST - 1])
        image, label = self.data.test_image(index)
        return {"pixels": [float(v) for v in image.astype(np.float32) / 255.0], "label": label}

    # ------------------------------------------------------------ 5. try it

    def call_predictPad(self, args: dict, payload: Any) -> list[float] | None:
        """10 probabilities for the drawing, or None (the page shows a hint) for an empty pad."""
        width, height = int(args.get("width", 0)), int(args.get("height", 0))
        alpha = np.frombuffer(payload, dtype=np.uint8) if payload else np.empty(0, np.uint8)
        if width < 1 or height < 1 or alpha.size != width * height:
            raise ConfigError("pad_size")
        self.pad_image = mnist_preprocess(alpha.reshape(height, width) / np.float32(255))
        return self.draw_pad_views()

    def draw_pad_views(self) -> list[float] | None:
        """Probabilities, filters and feature maps for the pad's digit (or test image 0)."""
        if self.model is None:
            return None
        probabilities = None
        if self.pad_image is not None:
            row = self.model.predict(self.pad_image.reshape(1, 784))[0]
            probabilities = [float(p) for p in row]
        views.draw_pad_probabilities(self.canvases, probabilities, self.lang)
        views.draw_network_inside(self.canvases, self.model, self.inside_image(), self.lang)
        return probabilities

    def inside_image(self) -> np.ndarray:
        """The chosen test image, else the drawing, else test image 0."""
        if self.inspected is None and self.pad_image is not None:
            return self.pad_image
        return self.data.test_image(self.inspected or 0)[0].astype(np.float32) / 255.0

    def call_inspect(self, args: dict, payload: Any) -> dict | None:
        """Show the feature maps of test image `index` (None: the drawing on the pad)."""
        index = args.get("index")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)
                                  or not 0 <= index < NUM_TEST):
            raise ConfigError("range", field="index", value=index, limits=[0, NUM_TEST - 1])
        self.inspected = index
        self.require_model()
        self.draw_pad_views()
        return {"layers": [layer.name for layer in self.model.layers
                           if layer.type_name == "Conv2D"]}

    # ------------------------------------------------------------ model files

    def call_saveWeights(self, args: dict, payload: Any) -> Outgoing:
        return Outgoing(weights.save(self.require_model(), self.model.optimizer))

    def call_loadWeights(self, args: dict, payload: Any) -> dict:
        data = payload if payload is not None else b""
        model = self.model or model_from("tutorial")
        weights.load_into(model, data)  # BadWeights (BAD_WEIGHTS) leaves the model unchanged
        self.model, self.evaluation = model, None
        self.draw_pad_views()
        return model.summary()


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: send them as null rather than break the page's parser."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


async def bytes_of(download: Awaitable[Download], file_name: str, code: str) -> bytes:
    """Await a download the worker started and return its bytes."""
    try:
        result = await download
    except Exception as exception:  # a dropped connection rejects the fetch
        raise error(code, "download", file=file_name, detail=str(exception)) from None
    if not result.ok:
        raise error(code, "http", file=file_name, status=result.status)
    return result.data
