"""The Python behind each step of the page, read from the package that is actually running.

The page's "show the code" panels ask for a step; we answer with `inspect.getsource` of the
functions that step runs, so a panel can never drift from the code it describes. Plain module
constants (TUTORIAL_SPEC) have no source of their own in `inspect`; for those we cut the
assignment out of the module's source with `ast`, comments above it included.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from typing import Any

# step -> (module, qualified name) in the order the panel shows them. Each is code the page
# runs when it does that step (tests/unit/test_sources_run.py traces the steps to hold it so):
# data is the boot's (load, split, the example and class-balance panels), model the summary's
# and the training forward pass, train call_train's loop, evaluate draw_evaluation's, try the
# pad's.
STEPS: dict[str, list[tuple[str, str]]] = {
    "data": [("digitlab.data.mnist", "MnistData.from_bytes"),
             ("digitlab.data.mnist", "MnistData.split"),
             ("digitlab.data.mnist", "MnistData.train_set"),
             ("digitlab.data.mnist", "MnistData.test_set")],
    "model": [("digitlab.nn.zoo", "TUTORIAL_SPEC"), ("digitlab.nn.zoo", "build_model"),
              ("digitlab.nn.layers", "Conv2D.forward"),
              ("digitlab.nn.layers", "MaxPool2D.forward")],
    "train": [("digitlab.nn.sequential", "Sequential.train_steps"),
              ("digitlab.nn.sequential", "Sequential.train_batch"),
              ("digitlab.nn.sequential", "Sequential.backpropagate"),
              ("digitlab.encoding", "normalize")],
    "evaluate": [("digitlab.nn.metrics", "accuracy"),
                 ("digitlab.nn.metrics", "per_class_accuracy"),
                 ("digitlab.nn.metrics", "confusion_matrix")],
    "try": [("digitlab.data.preprocess", "mnist_preprocess")],
}  # fmt: skip


def lookup(module: Any, qualname: str) -> Any:
    """The object `qualname` ("Class.method" or a top-level name) names in `module`."""
    target = module
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _constant_source(module: Any, name: str) -> tuple[str, int]:
    """A top-level `NAME = ...` assignment with the comment block right above it."""
    text = inspect.getsource(module)
    for node in ast.parse(text).body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            lines = text.splitlines()
            start = node.lineno - 1
            while start > 0 and lines[start - 1].lstrip().startswith("#"):
                start -= 1
            return "\n".join(lines[start: node.end_lineno]), start + 1
    raise LookupError(f"{module.__name__} has no top-level {name}")


def snippet(module_name: str, qualname: str) -> dict:
    """{"module", "name", "file", "line", "code"} for one function, method or constant."""
    module = importlib.import_module(module_name)
    file = module_name.replace(".", "/") + ".py"
    target = lookup(module, qualname)
    if inspect.isfunction(target) or inspect.isclass(target) or inspect.ismethod(target):
        lines, line = inspect.getsourcelines(target)
        code = textwrap.dedent("".join(lines))  # methods: as if written at the left margin
    else:
        code, line = _constant_source(module, qualname)
    return {"module": module_name, "name": qualname, "file": file, "line": line,
            "code": code.rstrip("\n")}


def step_sources(step: str) -> list[dict]:
    """Every snippet of `step`; KeyError for an unknown step."""
    return [snippet(module, name) for module, name in STEPS[step]]
