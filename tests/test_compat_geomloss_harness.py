"""The comparison rules of the GeomLoss gallery harness (compat/geomloss_harness.py).

Oracles: hand-made stdout texts, figure fingerprints and SamplesLoss call records whose
verdict is known (a real difference must still be reported; durations, verbose diagnostics
and a figure count that follows an optimizer's number of evaluations are not differences).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

COMPAT = Path(__file__).resolve().parents[1] / "compat"
sys.path.insert(0, str(COMPAT))

harness = pytest.importorskip("geomloss_harness")
from _gallery import compare_figures
from _gallery_probe import compare_calls, final_states, summarize


def test_clean_stdout_drops_durations_and_verbose_lines_only():
    text = (
        "0.20s, cost = 0.010139\n"
        "SamplesLoss('sinkhorn'): eps = 0.0025 (blur^p), 6 annealing stages, 77 iterations "
        "at the final eps, marginal error 6.60e-05\n"
        "SamplesLoss('sinkhorn', backend='multiscale'): 3 x 4 clusters, marginal error 1e-3\n"
        "step 3: 12 ms, loss 0.5\n"
        "Done."
    )
    cleaned, verbose = harness.clean_stdout(text)
    assert verbose == 2
    assert cleaned.splitlines() == [", cost = 0.010139", "step 3: , loss 0.5", "Done."]
    # the cost is still compared
    assert not harness.compare_stdout(cleaned, cleaned.replace("0.010139", "0.0085"), 1e-2, 0)[0]


def _stats(total, minimum, maximum):
    return [[8, 8], total, abs(total), total**2, minimum, maximum]


def test_figure_statistics_min_max_relative_to_data():
    same = _stats(64.0, 0.004, 1.0), _stats(64.0, 0.006, 1.0)  # 0.2% of the data's range
    assert (
        compare_figures([[("ax.image", same[0])]], [[("ax.image", same[1])]], 1e-2, 0)[0] == "same"
    )
    other = _stats(64.0, 0.0, 1.0), _stats(66.0, 0.0, 1.0)  # 3% of the sum
    assert compare_figures([[("ax", other[0])]], [[("ax", other[1])]], 1e-2, 0)[0] == "different"


def _call(loss, inputs, value, grad):
    array = {"shape": [2], "sum": inputs, "sum2": inputs**2}
    return {
        "loss": loss,
        "inputs": {"0": array},
        "value": [{"shape": [], "sum": value, "sum2": value**2, "data": [value]}],
        "grads": {"0": {"shape": [2], "sum": grad, "sum2": grad**2, "data": [grad, 0.0]}},
    }


def test_calls_compared_on_same_inputs_and_final_states():
    ref = [_call(0, 1.0, 2.0, 3.0), _call(0, 1.5, 1.0, 0.5), _call(0, 1.6, 0.9, 0.1)]
    otk = [_call(0, 1.0, 2.0, 3.0), _call(0, 1.6, 0.9, 0.1)]
    summary = summarize(ref, otk)
    assert summary["calls"] == [3, 2] and summary["same_input_pairs"] == 1
    assert summary["gradient_error"] == 0.0 and final_states(ref, otk) == 0.0
    assert compare_calls(ref, otk, 1e-2)[0] == "same"
    wrong = [_call(0, 1.0, 2.0, 3.3), otk[1]]  # a 10% gradient on the same inputs
    assert compare_calls(ref, wrong, 1e-2)[0] == "different"
    far = [otk[0], _call(0, 1.9, 0.7, 0.1)]  # the optimizer ended elsewhere
    assert final_states(ref, far) > 0.1


def test_figure_count_follows_optimizer_only_with_same_final_states():
    ref = [_call(0, 1.0, 2.0, 3.0), _call(0, 1.5, 1.0, 0.5), _call(0, 1.6, 0.9, 0.1)]
    otk = [_call(0, 1.0, 2.0, 3.0), _call(0, 1.6, 0.9, 0.1)]
    runs = ({"figures": [1, 2, 3]}, {"figures": [1, 2, 3]}, {"figures": [1, 2]})
    assert harness._figure_count_follows_optimizer(*runs, summarize(ref, otk), 1e-2)
    far = [otk[0], _call(0, 1.9, 0.7, 0.1)]
    assert not harness._figure_count_follows_optimizer(*runs, summarize(ref, far), 1e-2)
    # more figures with fewer evaluations is not explained by the optimizer
    flipped = ({"figures": [1, 2]}, {"figures": [1, 2]}, {"figures": [1, 2, 3]})
    assert not harness._figure_count_follows_optimizer(*flipped, summarize(ref, otk), 1e-2)
