"""The lab's controller: answers the page's calls and draws its canvases, in the worker.

The page's steps, in the tutorial's order: data (boot, examples), model (summary), train,
evaluate, try it (pad, filters), model files. It imports nothing from the browser: the canvases,
`post` (a message to the page), `yield_now` (let the worker receive messages) and `take_stop`
(was Stop pressed?) are handed in, by `web/worker.py` in the browser and by fakes in the unit
tests; the numeric work is the same code the CLI runs under CPython.

It is also the one owner of the lab's state: the model in use and where it came from, the
run (its position, whether it stopped) and the phase. Whenever any of it changes it posts one
`{"type": "state", "state": state()}` message, which the page renders from.

Continue (`train` with `continue: true`) never starts over. A stopped run goes on where it
stopped, through its planned epochs, with the same batches an uninterrupted run would have
seen; a finished run trains `epochs` more, numbering on; a model without a run (loaded,
restored, from a link) starts a run on its weights. Settings a continue call leaves out are
the run's own; in the middle of an epoch the images, batch size and seed cannot change.
"""

from __future__ import annotations

import contextlib
import gc
import json
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
from digitlab.data import photo
from digitlab.data.mnist import NUM_TEST, MnistData
from digitlab.data.preprocess import mnist_preprocess
from digitlab.errors import ConfigError, DigitLabError, error
from digitlab.i18n import describe
from digitlab.nn import metrics, plan, tfjs, weights
from digitlab.nn.optim import make_optimizer
from digitlab.nn.parallel import DataParallel, Replica, ReplicaLost
from digitlab.nn.sequential import Sequential, TrainingDiverged, TrainingRun, summarize
from digitlab.nn.spec import INPUT_SHAPE, SpecError, parse_spec
from digitlab.nn.training import check_config, model_error
from digitlab.nn.zoo import ZOO, build_model
from digitlab.schema import LANGUAGES, MAX_WORKERS, TRAINING, TRAINING_DEFAULTS
from digitlab.web import sources, views
from digitlab.web.canvas import CanvasSet
from digitlab.web.cells import Cells
from digitlab.web.team import SoloTeam, Team

WARM_UP_IMAGES = 1000  # Sequential.predict's batch: the first evaluate()'s shapes
CHART_INTERVAL_S = 0.25  # redraw live charts at most 4 times a second: drawing is not free
PROGRESS_INTERVAL_S = 0.1  # the progress bar and text: 10 updates a second (views.ProgressMeter)
# What may run while a model trains (the page's own guard rejects the rest first): reading
# memory, for the leak tests; the state; and a language switch, which only draws the canvases
# again (so the live charts change language at once). Anything else would see, or change, a
# model mid-batch.
CALLS_WHILE_TRAINING = frozenset({"memory", "simdInfo", "state", "setLanguage", "setTheme"})
# What a run remembers of the config that started it; a continue call may leave them out.
RUN_SETTINGS = ("trainSize", "validationSize", "batchSize", "seed", "learningRate",
                "learningRateDecay", "optimizer")
# What decides the batches of an epoch: fixed until the epoch ends.
EPOCH_SETTINGS = ("trainSize", "batchSize", "seed")
# `workers: 'auto'`: at most this many (the default, min(cores, 4)), and fewer while a
# worker's shard of a batch would be under MIN_SHARD_FLOPS forward FLOPs: below that the
# exchange and the wait for the slowest worker cost more than the shard saves (measured with
# `bench/run.py --scaling`: on 2 cores two workers break even from 11-24 MFLOP a shard, and
# win clearly from about 20; see the README).
AUTO_WORKERS = 4
MIN_SHARD_FLOPS = 20_000_000
# Where a model can come from (`source` in the state): trained here, a weights file, this
# browser's storage at boot, a share link the reader accepted, the builder, the code cell.
SOURCES = ("trained", "file", "stored", "link", "builder", "code")


class Outgoing:
    """What a call returns when its answer is bytes (a weights file) rather than JSON."""

    def __init__(self, data: bytes) -> None:
        self.data = data


@dataclass(frozen=True)
class Download:
    """A file the worker fetched for Python: `data` is None unless `ok`. `inflated`: the
    sprite's image data the worker already inflated (see png.decode_gray8), if it did."""

    ok: bool
    status: int
    data: bytes | None
    inflated: tuple[np.ndarray, np.ndarray] | None = None


Post = Callable[[dict], None]


def epoch_ms() -> float:
    """Wall-clock ms, the clock the worker's own boot marks use (timeOrigin + now)."""
    return time.time() * 1000


def failure(problem: DigitLabError, lang: str, **extra: Any) -> dict:
    """A refused call's reply: the error's data, and its message in the page's language."""
    data = {**problem.to_dict(), **extra}
    return {"ok": False, **data, "message": describe(data, lang)}


def model_from(spec: Any, seed: int = 0) -> Sequential:
    try:
        return build_model(spec, seed=seed)
    except SpecError as problem:
        raise model_error(problem.to_dict()) from None


def architecture(layers: list) -> str:
    """A model's layers as comparable text: their configs, without names or weights."""
    return json.dumps([layer.config() for layer in layers], sort_keys=True)


ZOO_ARCHITECTURES = {name: architecture(parse_spec(spec)) for name, spec in ZOO.items()}


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
                 yield_now: Callable[[], Awaitable[Any]], take_stop: Callable[[], bool],
                 pause: Callable[[], None] = lambda: None, team: Team | None = None) -> None:
        """`pause()`: let the worker receive messages and show frames from inside synchronous
        code (a code cell's training); a no-op where that cannot be done. `team`: the other
        workers a run may share its batches with (web/team.py); none by default."""
        self.settings = settings
        self.lang = self.settings.get("lang", "en")
        self.canvases = canvases
        self.post, self.yield_now, self.take_stop = post, yield_now, take_stop
        self.training = False
        self.data: MnistData | None = None
        self.model: Sequential | None = None
        self.source: str | None = None  # where self.model came from: one of SOURCES
        self.untrained = False  # built from a spec and not trained yet (a link's model)
        self.run: TrainingRun | None = None  # the model's run, stopped or finished
        self.run_settings: dict | None = None  # its RUN_SETTINGS
        self.evaluation: dict | None = None
        self.pad_image: np.ndarray | None = None
        self.inspected: int | None = None  # a test image chosen for the feature maps
        # Bytes a call produced, by call token: calls interleave at every await, so one
        # shared slot would hand one call's bytes to another.
        self.outgoing: dict[int, bytes] = {}
        self.next_token = 0
        self.cells = Cells(post, pause, take_stop)  # the code cells (web/cells.py)
        self.code_model: Sequential | None = None  # what the model cell's get_model() made
        self.team: Team = team or SoloTeam()
        self.workers_requested: int | str = TRAINING_DEFAULTS["workers"]  # the last train()'s
        self.workers_active: int | None = None  # how many workers the current or last run uses
        views.attach(canvases, post)  # where the canvases' alt texts go

    # ------------------------------------------------------------ 1. data

    async def boot(self, sprite_download: Awaitable[Download], labels_download: Awaitable[Download],
                   kernel_downloads: dict[str, Awaitable[Download]] | None = None) -> dict:
        """Decode the data, load the kernels, draw the data step: {ok, value | code, stage,
        message}. `value.timings`: each step's [start, end] in epoch ms, for the page's boot
        breakdown."""
        timings: dict[str, list[float]] = {}
        try:
            start = epoch_ms()
            sprite = await downloaded(sprite_download, "mnist_images.png", "DATA_SPRITE")
            labels = await bytes_of(labels_download, "mnist_labels_uint8", "DATA_LABELS")
            timings["dataWait"], start = [start, epoch_ms()], epoch_ms()
            # DataError: DATA_SPRITE/LABELS
            self.data = MnistData.from_bytes(sprite.data, labels, inflated=sprite.inflated)
            timings["dataDecode"], start = [start, epoch_ms()], epoch_ms()
            await load_kernels(self.settings.get("simd", "plain"), kernel_downloads)
            timings["kernels"], start = [start, epoch_ms()], epoch_ms()
            self.draw_data_step()
            self.draw_pad_views()
            self.post_state()
            summary = self.call_summary({"model": "tutorial"}, None)
            timings["firstDraw"] = [start, epoch_ms()]
            return {"ok": True, "value": {"examples": self.examples(), "summary": summary,
                                          "timings": timings}}
        except DigitLabError as problem:
            return failure(problem, self.lang, stage="data")
        except Exception as exception:
            traceback.print_exc()
            return failure(error("RUNTIME", "exception", exception=type(exception).__name__,
                                 detail=str(exception)), self.lang, stage="data")

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
            if self.cells.running and method not in CALLS_WHILE_TRAINING:
                raise error("BUSY", "running")  # a cell that yields lets calls in
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

    def call_warmUp(self, args: dict, payload: Any) -> None:
        """Pay, just after boot, what the first evaluate() would: the worker asks once ready.

        The first forward pass of a session is the slow one: V8 runs the kernels' WebAssembly
        unoptimised until they are hot, and the heap grows to a 1000-image batch's activations
        (wasm memory never shrinks, so that is paid once). One such batch through the model in
        use (or an untrained tutorial model: same kernels, same shapes) does both; nothing in
        the lab's state changes.
        """
        model = self.model if self.model is not None else model_from("tutorial")
        images, _ = self.data.test_set(WARM_UP_IMAGES)
        model.predict(images, batch_size=WARM_UP_IMAGES)

    # ------------------------------------------------------------ the state

    def state(self) -> dict:
        """What the page shows about the lab: {phase, model, run, evaluation}.

        model: {name ('tutorial', 'strong' or 'custom', by its layers), params, source,
        trained, spec, summary} or None; run: see run_state; evaluation: {accuracy, size}.
        """
        model = None
        if self.model is not None:
            model = {"name": self.model_name(), "params": self.model.param_count(),
                     "source": self.source, "trained": not self.untrained,
                     "spec": self.model.spec(), "summary": self.model.summary()}
        evaluation = None if self.evaluation is None else {
            "accuracy": self.evaluation["accuracy"], "size": self.evaluation["size"],
            # For the confusion matrix's table and the per-digit text: words, not pixels.
            "perClass": self.evaluation["perClass"], "counts": self.evaluation["counts"],
            "confusion": self.evaluation["confusion"]}
        phase = "training" if self.training else "running" if self.cells.running else "ready"
        return {"phase": phase, "model": model, "run": self.run_state(),
                "evaluation": evaluation, "workers": self.workers_state()}

    def workers_state(self) -> dict:
        """{requested, active, ready, booting, lost, cores, parallel, exchange}: ready counts
        the lead."""
        team = self.team.info()
        return {"requested": self.workers_requested, "active": self.workers_active,
                "ready": 1 + team["ready"], "booting": team["booting"], "lost": team["lost"],
                "cores": self.settings.get("cores"), "parallel": self.team.supported,
                "exchange": team["exchange"]}

    def workers_for(self, requested: int | str, model: Sequential, batch_size: int) -> int:
        """How many workers a run uses: 1 where the team cannot take part, else the count
        asked for, or for 'auto' up to AUTO_WORKERS cores while each shard is worth it."""
        if not self.team.parallel:
            return 1
        if requested != "auto":
            return int(requested)
        cores = self.settings.get("cores")
        count = min(int(cores) if isinstance(cores, int) and cores > 0 else 1, AUTO_WORKERS,
                    MAX_WORKERS)
        while count > 1 and batch_size // count * model.flops_per_image() < MIN_SHARD_FLOPS:
            count -= 1
        return count

    async def share_batches(self, workers: int) -> int:
        """Hand the model's batches to `workers` workers (the lead and workers - 1 replicas,
        booted now if they are not yet); how many take part (fewer if a replica fails to
        boot)."""
        if workers > 1:
            workers = 1 + await self.team.ready(workers - 1)
        if workers > 1:
            self.model.parallel = DataParallel(self.model, self.team.transport(workers - 1))
        return workers

    def stop_sharing(self) -> None:
        """The run ends: the replicas take its last step (so they equal the lead), the lead
        trains alone again. A replica lost here is seen at the next run."""
        parallel, self.model.parallel = self.model.parallel, None
        if parallel is not None:
            with contextlib.suppress(ReplicaLost):
                parallel.finish()

    def run_state(self) -> dict | None:
        """{epoch (the one it is in, from 1), epochs (planned), completed, batch (done in the
        epoch after the completed ones), batches (per epoch), stopped, finished, the last
        completed epoch's loss, acc, valLoss, valAcc, and its settings}, or None."""
        run = self.run
        if run is None:
            return None
        finished = run.finished
        if finished:
            epoch = run.epoch
        elif run.batch or self.training:
            epoch = run.epoch + 1
        else:  # stopped between epochs: at the end of the last one
            epoch = max(run.epoch, 1)
        history = run.history

        def last(key: str) -> float | None:
            return history[key][-1] if history[key] else None

        return {"epoch": epoch, "epochs": run.epochs, "completed": run.epoch,
                "batch": run.batch, "batches": run.batches,
                "stopped": not self.training and not finished, "finished": finished,
                "loss": last("loss"), "acc": last("acc"), "valLoss": last("val_loss"),
                "valAcc": last("val_acc"), "settings": dict(self.run_settings or {})}

    def model_name(self) -> str:
        """The zoo name of the model's layers, or 'custom'."""
        layers = architecture(self.model.layers)
        return next((name for name, arch in ZOO_ARCHITECTURES.items() if arch == layers),
                    "custom")

    def post_state(self) -> None:
        self.post({"type": "state", "state": json_safe(self.state())})

    def call_state(self, args: dict, payload: Any) -> dict:
        return self.state()

    def is_active(self, spec: Any) -> bool:
        """Is `spec` (a zoo name or layer list) the architecture of the model in use?"""
        if self.model is None:
            return False
        try:
            layers = parse_spec(ZOO.get(spec, spec) if isinstance(spec, str) else spec)
        except SpecError:
            return False
        return architecture(layers) == architecture(self.model.layers)

    def set_model(self, model: Sequential | None, source: str | None,
                  untrained: bool = False) -> None:
        """Another model is in use: its run, evaluation and pictures are no longer the old
        model's."""
        self.model, self.source, self.untrained = model, source, untrained
        self.run = self.run_settings = self.evaluation = None
        views.draw_training(self.canvases, empty_history(), self.lang)
        self.draw_pad_views()
        self.post_state()

    def call_setLanguage(self, args: dict, payload: Any) -> list[str]:
        """Word everything in `lang` from now on, and draw every canvas again in it."""
        lang = args.get("lang")
        if lang not in LANGUAGES:
            raise ConfigError("choice", field="lang", value=lang, choices=list(LANGUAGES))
        self.lang = lang
        if self.cells.session is not None:
            self.cells.session.set_language(lang)  # hints in the new language
        return self.redraw()

    def redraw(self) -> list[str]:
        """Every canvas that shows something, drawn again in self.lang (with its alt text): what
        it shows, not what the state would draw now, so no state can be left out. Also while a
        model trains: it only paints. Returns the canvases drawn."""
        return views.redraw(self.canvases, self.lang)

    @property
    def history(self) -> dict | None:
        """The run's history (the charts' data), None without a run."""
        return None if self.run is None else self.run.history

    # ------------------------------------------------------------ 2. model

    def call_summary(self, args: dict, payload: Any) -> dict:
        spec = args.get("model", "tutorial")
        if spec == "code":  # the model the model cell's get_model() made when it last ran
            # (after a worker restart: the model in use, if it came from the cells)
            model = self.code_model or (self.model if self.source == "code" else None)
            if model is None:
                raise error("NO_MODEL", "no_model")
            return {**model.summary(), "active": self.is_active(model.spec())}
        if spec != "current":
            self.check_plan(spec, None)  # never allocate a model the budget cannot hold
        if spec == "current" and self.model:
            return {**self.model.summary(), "active": True}
        # `active`: the model in use has these layers (else the page says it is not trained)
        return {**summary_of(spec), "active": self.is_active(spec)}

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
        result["active"] = result["ok"] and self.is_active(spec)
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
        """Train; resolves with the run's whole history (continued runs included).

        `model: 'code'` trains what the model cell's get_model() returns, called now.
        """
        code_model = None
        if args.get("model") == "code" and args.get("continue") is True:
            args = {key: value for key, value in args.items() if key != "model"}  # the one in use
        elif args.get("model") == "code":
            code_model = self.model_from_cells()
            args = {**args, "model": code_model.spec()}
        config = check_config(args)
        self.workers_requested = config["workers"]
        resume = config["continue"] and self.model is not None
        if resume:
            settings, epochs = self.continued_settings(args, config)
        else:
            self.check_plan(config["model"], config["batchSize"])
            settings, epochs = {key: config[key] for key in RUN_SETTINGS}, config["epochs"]
        self.prepare_model(args, config, settings, resume, code_model)
        self.data.split(settings["trainSize"], settings["validationSize"], settings["seed"])
        x, y = self.data.train_set()
        data = {"x": x, "y": y, "batch_size": settings["batchSize"],
                "validation_data": self.data.validation_set(), "seed": settings["seed"],
                "learning_rate_decay": settings["learningRateDecay"]}
        if resume and self.run is not None:
            run = self.run.resumed(epochs, **data)
        else:
            run = TrainingRun(self.model, epochs=epochs, keep_checkpoints=True, **data)
        self.take_stop()  # a Stop pressed before this run started is not for it
        self.run, self.run_settings = run, settings
        self.source, self.untrained, self.evaluation = "trained", False, None
        done = run.epoch * len(x) + min(run.batch * settings["batchSize"], len(x))
        meter = views.ProgressMeter(len(x), epochs, done, PROGRESS_INTERVAL_S)
        last_draw = 0.0
        workers = self.workers_for(config["workers"], self.model, settings["batchSize"])
        self.workers_active = workers
        self.training = True
        self.post_state()
        try:
            self.workers_active = await self.share_batches(workers)
            if self.workers_active != workers:  # a replica failed to boot
                self.post_state()
            for event in run:
                now = time.perf_counter()
                if event["kind"] == "epoch" or now - last_draw > CHART_INTERVAL_S:
                    views.draw_training(self.canvases, run.history, self.lang)
                    last_draw = time.perf_counter()
                progress = meter.progress(event, run.history, self.lang)
                if progress is not None:
                    self.post(progress)
                if event["kind"] == "epoch":
                    self.post_state()
                await self.yield_now()  # lets the worker receive a Stop
                if self.take_stop():
                    break
        except TrainingDiverged as diverged:
            # The engine restored the weights of the batch before; those can already be huge,
            # so go back to the last point known to be good, and the run with them: it is
            # stopped there, and Continue (with a lower learning rate) goes on from it.
            good = run.rewind().position
            if good.batch:
                where = {"reason": "restored_batch", "restored_epoch": good.epoch + 1,
                         "restored_batch": good.batch}
            else:
                where = {"reason": "restored_epoch" if good.epoch else "restored_start",
                         "restored_epoch": good.epoch}
            raise error("DIVERGED", **where, **diverged.params) from None
        except ReplicaLost as lost:
            # The lead is at the last completed batch (nn/parallel.py), and so is the run.
            raise error("WORKER_LOST", "lost", worker=lost.replica + 1,
                        workers=self.workers_active, epoch=run.epoch + 1,
                        batch=run.batch + 1) from None
        finally:
            self.stop_sharing()
            self.training = False
            run.close()
            views.draw_training(self.canvases, run.history, self.lang)
            self.draw_pad_views()
            self.post_state()
        return run.history

    async def call_replicas(self, args: dict, payload: Any) -> list[dict]:
        """Every worker's copy of the model in use, lead first: [{worker, checksum,
        wasmHeapBytes}] (the lead's heap size is the worker's to add). Equal checksums mean
        equal weights and optimiser state, bit for bit."""
        model = self.require_model()
        lead = {"worker": 1, "checksum": Replica(model).checksum() if model.optimizer else None,
                "wasmHeapBytes": None}
        try:
            others = await self.team.replicas()
        except ReplicaLost:
            others = await self.team.replicas()  # the lost one is gone from the team now
        return [lead, *({"worker": n, **replica} for n, replica in enumerate(others, start=2))]

    def continued_settings(self, args: dict, config: dict) -> tuple[dict, int]:
        """A continue call's settings and the run's epochs in all, checked against the run.

        Left-out settings are the run's. A stopped run keeps its plan unless `epochs` is given
        (then at least the epoch it is in); a finished one trains `epochs` more.
        """
        run, previous = self.run, self.run_settings
        if run is None:  # a loaded, restored or link model: a run starts on its weights
            return {key: config[key] for key in RUN_SETTINGS}, config["epochs"]
        settings = {key: config[key] if key in args else previous[key] for key in RUN_SETTINGS}
        if run.batch:
            for key in EPOCH_SETTINGS:
                if settings[key] != previous[key]:
                    raise ConfigError("continue_setting", field=key, value=settings[key],
                                      expected=previous[key])
        if run.finished:
            return settings, run.epoch + config["epochs"]
        epochs = config["epochs"] if "epochs" in args else run.epochs
        least = run.epoch + 1 if run.batch else max(run.epoch, 1)
        if epochs < least:
            raise ConfigError("range", field="epochs", value=epochs,
                              limits=[least, TRAINING["epochs"]["max"]])
        return settings, epochs

    def prepare_model(self, args: dict, config: dict, settings: dict, resume: bool,
                      code_model: Sequential | None = None) -> None:
        """A fresh model (or the code cell's, as it was built), or (continue) the current one
        with its optimiser state: a new optimiser only when the call names another kind, or
        the model has none."""
        if not resume:
            model = code_model or model_from(config["model"], seed=config["seed"])
            model.compile(make_optimizer(config["optimizer"], config["learningRate"]))
            self.model = model
            return
        optimizer = self.model.optimizer
        if optimizer is None or ("optimizer" in args and config["optimizer"] != optimizer.kind):
            self.model.compile(make_optimizer(config["optimizer"], settings["learningRate"]))
        settings["optimizer"] = self.model.optimizer.kind
        # The rate an uninterrupted run would have reached: decayed once per completed epoch.
        completed = self.run.epoch if self.run is not None else 0
        self.model.optimizer.learning_rate = (settings["learningRate"]
                                              * settings["learningRateDecay"] ** completed)

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
        self.post_state()
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
        """Probabilities, filters and feature maps for the pad's digit or the chosen test
        image; each view says in words when it has nothing to show (no model, empty pad)."""
        if self.model is None:
            views.draw_pad_empty(self.canvases, self.lang)
            return None
        probabilities = None
        if self.pad_image is not None:
            row = self.model.predict(self.pad_image.reshape(1, 784))[0]
            probabilities = [float(p) for p in row]
        views.draw_pad_probabilities(self.canvases, probabilities, self.lang)
        views.draw_network_inside(self.canvases, self.model, self.inside_image(), self.lang,
                                  self.inspected)
        return probabilities

    def inside_image(self) -> np.ndarray | None:
        """The chosen test image, else the drawing, else None (the maps say how to choose)."""
        if self.inspected is not None:
            return self.data.test_image(self.inspected)[0].astype(np.float32) / 255.0
        return self.pad_image

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

    def call_uploadDigit(self, args: dict, payload: Any) -> Outgoing:
        """An image file of a digit (PNG, JPEG, anything Pillow reads) -> its ink fitted into a
        `width` x `height` pad, as alpha bytes (BAD_IMAGE when unreadable, huge or blank). The
        page draws them on the pad as its ink, then predicts the pad as for a drawing, so the
        probabilities, filters and feature maps all describe the upload."""
        width, height = args.get("width", photo.WORK_SIDE), args.get("height", photo.WORK_SIDE)
        for field, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
                raise ConfigError("range", field=field, value=value, limits=[1, 4096])
        return Outgoing(photo.pad_ink(payload or b"", width, height).tobytes())

    def call_setTheme(self, args: dict, payload: Any) -> list[str]:
        """Draw every canvas again in the dark or light chart theme (the reader's system
        switched colour scheme)."""
        dark = args.get("dark")
        if not isinstance(dark, bool):
            raise ConfigError("boolean", field="dark", value=dark)
        self.canvases.set_theme(dark)
        return self.redraw()

    # ------------------------------------------------------------ model files

    def call_saveWeights(self, args: dict, payload: Any) -> Outgoing:
        return Outgoing(weights.save(self.require_model(), self.model.optimizer))

    def call_loadWeights(self, args: dict, payload: Any) -> dict:
        """Use the file's model; `source` 'stored' when it is this browser's saved model.

        The file is a weights file (.npz), or a TF.js model: a zip holding model.json and its
        .bin (a model.json alone is refused for its missing .bin, saying so)."""
        data = payload if payload is not None else b""
        if tfjs.looks_like_json(data) or tfjs.is_tfjs_zip(data):
            return self.load_model_files({"model.json": data} if tfjs.looks_like_json(data)
                                         else tfjs.read_zip(data))
        model = self.model or model_from("tutorial")
        weights.load_into(model, data)  # BadWeights (BAD_WEIGHTS) leaves the model unchanged
        # A restarted worker gets the model that was in use back, with where it came from.
        source = args.get("source")
        self.set_model(model, source if source in SOURCES else "file")
        return model.summary()

    def call_loadModelFiles(self, args: dict, payload: Any) -> dict:
        """Several files chosen together, `args.files` [{name, size}] and their bytes back to
        back in `payload`: one weights file or zip (as loadWeights), or a TF.js model.json
        with its .bin files."""
        files, data, offset = {}, payload or b"", 0
        entries = args.get("files")
        if not isinstance(entries, list) or not entries:  # only a script can send these
            raise weights.BadWeights("not_bytes")
        for entry in entries:
            size = entry.get("size") if isinstance(entry, dict) else None
            if isinstance(size, bool) or not isinstance(size, int) or size < 0 \
                    or offset + size > len(data):
                raise weights.BadWeights("not_bytes")
            files[str(entry.get("name", ""))] = bytes(data[offset : offset + size])
            offset += size
        name, data = next(iter(files.items()))
        if len(files) == 1 and not name.lower().endswith((".json", ".bin")):
            return self.call_loadWeights({}, data)  # a weights file or a zip
        return self.load_model_files(files)

    def load_model_files(self, files: dict[str, bytes]) -> dict:
        """Use a TF.js model; BadTfjs (BAD_TFJS) before anything changes."""
        model = tfjs.load_files(files, self.memory_budget())
        self.set_model(model, "file")
        return model.summary()

    def call_exportTfjs(self, args: dict, payload: Any) -> Outgoing:
        """The model in use as a TF.js Layers model: a zip of model.json and model.weights.bin."""
        return Outgoing(tfjs.export_zip(self.require_model()))

    # ------------------------------------------------------------ the code cells

    def call_cellOriginals(self, args: dict, payload: Any) -> dict[str, str]:
        """{step: the original code of its cell}: the page fills its editors with these."""
        return self.cells.originals()

    def session(self) -> Any:
        # What a cell draws is shown like the page's own drawings: alt text posted, kept for
        # a language switch.
        session = self.cells.session_for(
            self.data, self.canvases, self.lang, self.model,
            lambda name, paint: views.present(self.canvases, name, self.lang, paint))
        if self.pad_image is not None:
            session.set_pixels(self.pad_image)  # the try cell's `pixels`: the pad's drawing
        return session

    def model_from_cells(self) -> Sequential:
        """get_model() of the model cell, called now (DigitLabError when it fails)."""
        return self.session().model_from_code()

    def call_runCode(self, args: dict, payload: Any) -> dict:
        """Run a cell: {ok, stdout, stderr, error: None | {type, message, line, hint}}. Errors
        in the reader's code are the result, not a refusal. After the model cell runs, its
        get_model() is the model in use (source 'code'); if that fails, the model stays."""
        step, code = self.cells.check(args)
        session = self.session()
        self.cells.running = step
        self.post_state()
        try:
            result = self.cells.run(step, code, session, self.lang)
            if result["ok"] and step == "model":
                result = self.adopt_code_model(session, result)
            else:
                self.follow_cells_model(session, step)
        finally:
            self.cells.running = None
            self.post_state()
        return result

    def follow_cells_model(self, session: Any, step: str) -> None:
        """After a cell: a model the cells now name is the model in use; the model in use
        trained by a cell (its weights changed in place, even by a stopped fit) has no run of
        the page's any more, and its evaluation and pad views are out of date."""
        engine = session.model
        if engine is None:
            return
        if engine is not self.model:
            self.set_model(engine, "code", untrained=step not in ("train",))
        elif step == "train":
            self.untrained, self.run, self.run_settings, self.evaluation = False, None, None, None
            self.draw_pad_views()

    def adopt_code_model(self, session: Any, result: dict) -> dict:
        try:
            model = session.model_from_code()
        except DigitLabError as problem:
            return {**result, "ok": False, "error": {
                "type": problem.code, "message": describe(problem, self.lang, framed=False),
                "line": None, "hint": None}}
        except Exception as exception:  # noqa: BLE001 - the reader's get_model failed: say so
            return {**result, "ok": False, "error": {
                "type": type(exception).__name__, "message": str(exception), "line": None,
                "hint": None}}
        self.code_model = model
        self.set_model(model, "code", untrained=True)
        session.set_model(model)  # `model` in the cells: what get_model() made, as compiled
        return result

    def call_useModel(self, args: dict, payload: Any) -> dict:
        """Use a model built from a spec, untrained (a share link's, when the reader accepts
        it): Evaluate, Save and the pad then use it, and the summary shows it."""
        spec = args.get("model", "tutorial")
        source = args.get("source", "link")
        if source not in ("link", "builder"):
            raise ConfigError("choice", field="source", value=source, choices=["link", "builder"])
        self.check_plan(spec, None)
        self.set_model(model_from(spec, seed=0), source, untrained=True)
        return self.model.summary()


def empty_history() -> dict:
    return {"loss": [], "acc": [], "val_loss": [], "val_acc": [], "batches": []}


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: send them as null rather than break the page's parser."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


async def downloaded(download: Awaitable[Download], file_name: str, code: str) -> Download:
    """Await a download the worker started; refused (`code`) unless it succeeded."""
    try:
        result = await download
    except Exception as exception:  # a dropped connection rejects the fetch
        raise error(code, "download", file=file_name, detail=str(exception)) from None
    if not result.ok:
        raise error(code, "http", file=file_name, status=result.status)
    return result


async def bytes_of(download: Awaitable[Download], file_name: str, code: str) -> bytes:
    """Await a download the worker started and return its bytes."""
    return (await downloaded(download, file_name, code)).data


async def load_kernels(choice: str, downloads: dict[str, Awaitable[Download]] | None) -> None:
    """Make the WebAssembly SIMD kernels the backend (`choice`: the page's `simd` setting),
    before any training can start, so a seeded run always takes the same path. Without them,
    NumPy stays. `downloads` maps each variant to a download the worker started at once."""
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
