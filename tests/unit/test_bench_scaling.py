"""bench/run.py --scaling's arithmetic: where two workers start to beat one, from the sweep."""

from __future__ import annotations

import math
import runpy
from pathlib import Path

import pytest

BENCH = runpy.run_path(str(Path(__file__).resolve().parents[2] / "bench" / "run.py"),
                       run_name="bench_scaling")
crossover = BENCH["crossover"]


def point(flops: float, ratio: float, model: str = "tutorial") -> dict:
    return {"model": model, "shard_flops": flops, "ratio": ratio}


def test_crossover_is_where_the_ratio_line_crosses_one_between_the_bracketing_points() -> None:
    found = crossover([point(40e6, 1.2), point(10e6, 0.8), point(20e6, 0.9)])  # any order
    assert (found["loses_at_flops"], found["wins_from_flops"]) == (20e6, 40e6)
    # ratio 0.9 -> 1.2 over one doubling: 1 is a third of the way, in log FLOPs
    assert found["estimate_flops"] == pytest.approx(20e6 * 2 ** (1 / 3), rel=1e-12)


def test_a_win_below_a_later_loss_does_not_count() -> None:
    found = crossover([point(5e6, 1.05), point(10e6, 0.95), point(20e6, 1.1)])
    assert (found["loses_at_flops"], found["wins_from_flops"]) == (10e6, 20e6)
    assert 10e6 < found["estimate_flops"] < 20e6


def test_no_bracket_no_estimate() -> None:
    never = crossover([point(5e6, 0.5), point(10e6, 0.9)])
    always = crossover([point(5e6, 1.5), point(10e6, 1.9)])
    assert (never["loses_at_flops"], never["wins_from_flops"], never["estimate_flops"]) == (
        10e6, None, None)
    assert (always["loses_at_flops"], always["wins_from_flops"], always["estimate_flops"]) == (
        None, 5e6, None)


def test_crossovers_pools_the_models_only_when_there_are_several() -> None:
    points = [point(10e6, 0.9), point(20e6, 1.1), point(24e6, 1.2, "strong")]
    assert set(BENCH["crossovers"](points)) == {"tutorial", "strong", "all"}
    assert set(BENCH["crossovers"](points[:2])) == {"tutorial"}
    pooled = BENCH["crossovers"](points)["all"]
    assert math.isclose(pooled["estimate_flops"], crossover(points[:2])["estimate_flops"])
