"""Records and compares the ``SamplesLoss`` calls of a GeomLoss gallery run.

``geomloss_harness.py`` writes :data:`PROBE_MODULE` next to the scripts' stand-ins; the
GeomLoss reference module and the otkit run module install it on their library's
``SamplesLoss`` class. Each call is then recorded (in order, per loss object) with a
fingerprint of its array arguments (shape, sum, sum of squares), its value (or potentials)
and the gradient of the summed value with respect to every argument that requires one
(``torch.autograd.grad(..., retain_graph=True)``: the script's own backward pass is not
touched; balanced Sinkhorn weight gradients, defined up to a constant, are recorded
centred; balanced potentials, ``potentials=True``, are recorded as returned, each library
fixing their constant its own way). The records are written as JSON at exit, to
``$OTKIT_HARNESS_PROBE``.

:func:`compare_calls` compares two runs call by call where the inputs are the same (the
first call of a gradient flow or of an optimizer, every call of a script that evaluates
fixed data): values and gradients, relative to their size. :func:`final_states` compares
the last call of each loss object (its inputs: where a flow or an optimizer ended, and its
value). Neither is a printed number or a figure: the harness reports them, and uses the
final states only to tell a figure count that follows an optimizer's number of loss
evaluations from a real difference.
"""

from __future__ import annotations

import numpy as np

PROBE_MODULE = '''"""SamplesLoss call recorder of compat/geomloss_harness.py (see compat/_gallery_probe.py)."""
import atexit
import itertools
import json
import os

import numpy as np

_PATH = os.environ.get("OTKIT_HARNESS_PROBE")
_LIMIT = 50000  # arrays up to this size are stored whole, larger ones as a fingerprint
_records = []


def _as_numpy(value):
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return value.detach().cpu().double().numpy()
    except ImportError:
        pass
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return np.asarray(value, dtype=float)
    return None


def _fingerprint(arr, whole=False):
    out = {"shape": list(arr.shape), "sum": float(arr.sum()), "sum2": float((arr**2).sum())}
    if whole and arr.size <= _LIMIT:
        out["data"] = arr.ravel().tolist()
    return out


def _weight_positions(n_args):
    """Positions of the weights in GeomLoss's call forms L(x, y), L(a, x, b, y) and
    L(l_x, a, x, l_y, b, y)."""
    return {4: (0, 2), 6: (1, 4)}.get(n_args, ())


def _grads(out, args, balanced):
    try:
        import torch
    except ImportError:
        return None
    if not (isinstance(out, torch.Tensor) and out.requires_grad):
        return None
    wanted = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.requires_grad]
    if not wanted:
        return None
    grads = torch.autograd.grad(
        out.sum(), [args[i] for i in wanted], retain_graph=True, allow_unused=True
    )
    recorded = {}
    for i, g in zip(wanted, grads):
        if g is None:
            recorded[str(i)] = None
            continue
        g = _as_numpy(g)
        if balanced and i in _weight_positions(len(args)):
            # balanced losses see the weights on fixed masses: their gradient is defined up
            # to a constant (per batch row), which each library fixes its own way
            g = g - g.mean(axis=-1, keepdims=True)
        recorded[str(i)] = _fingerprint(g, whole=True)
    return recorded


def install(cls):
    """Record every call of ``cls`` instances (one id per loss object, in creation order)."""
    call, ids = cls.__call__, itertools.count()

    def __call__(self, *args, **kwargs):
        out = call(self, *args, **kwargs)
        if not _PATH:
            return out
        if "_harness_probe_id" not in self.__dict__:
            self.__dict__["_harness_probe_id"] = next(ids)
        arrays = [(i, _as_numpy(a)) for i, a in enumerate(args)]
        record = {
            "loss": self.__dict__["_harness_probe_id"],
            "inputs": {str(i): _fingerprint(a) for i, a in arrays if a is not None},
        }
        parts = out if isinstance(out, (tuple, list)) else (out,)
        values = [_as_numpy(p) for p in parts]
        if all(v is not None for v in values):
            record["value"] = [_fingerprint(v, whole=True) for v in values]
        try:
            balanced = getattr(self, "loss", None) == "sinkhorn" and self.reach is None
            record["grads"] = _grads(out, args, balanced)
        except RuntimeError as error:  # a graph the script set up without gradients
            record["grads_error"] = str(error)[:200]
        _records.append(record)
        return out

    cls.__call__ = __call__


@atexit.register
def _dump():
    if _PATH:
        with open(_PATH, "w") as handle:
            json.dump(_records, handle)
'''

# The otkit run imports this module (the runner's LIBRARY argument) instead of ``otkit``.
OTKIT_RUN_MODULE = '''"""otkit run of compat/geomloss_harness.py: otkit, with its SamplesLoss calls recorded."""
import otkit
from _samplesloss_probe import install

install(otkit.SamplesLoss)
'''

# Inputs agreeing to this relative tolerance are "the same inputs" (float32 data written
# by the same script on both runs agree to rounding).
SAME_INPUT_RTOL = 1e-6


def _rel(a: float, b: float, floor: float = 0.0) -> float:
    scale = max(abs(a), abs(b), floor)
    return 0.0 if scale == 0.0 else abs(a - b) / scale


def _input_gap(ra: dict, rb: dict) -> float:
    """Largest relative difference between the input fingerprints of two calls (inf when
    their arguments differ in number or shape)."""
    if ra["inputs"].keys() != rb["inputs"].keys():
        return float("inf")
    gap = 0.0
    for key, fa in ra["inputs"].items():
        fb = rb["inputs"][key]
        if fa["shape"] != fb["shape"]:
            return float("inf")
        gap = max(
            gap, _rel(fa["sum"], fb["sum"], np.sqrt(fa["sum2"])), _rel(fa["sum2"], fb["sum2"])
        )
    return gap


def _array_error(fa: dict | None, fb: dict | None) -> float:
    """Relative error |a - b| / |b| of two recorded arrays (whole when stored, else from
    their fingerprints); inf when one is missing or the shapes differ."""
    if fa is None or fb is None:
        return 0.0 if fa is fb else float("inf")
    if fa["shape"] != fb["shape"]:
        return float("inf")
    if "data" in fa and "data" in fb:
        a, b = np.asarray(fa["data"]), np.asarray(fb["data"])
        norm = max(np.linalg.norm(a), np.linalg.norm(b))
        return 0.0 if norm == 0.0 else float(np.linalg.norm(a - b) / norm)
    return max(_rel(fa["sum"], fb["sum"], np.sqrt(fa["sum2"])), _rel(fa["sum2"], fb["sum2"]))


def _call_errors(ra: dict, rb: dict) -> tuple[float, float]:
    """(value error, gradient error) of two calls, relative to their size."""
    va, vb = ra.get("value"), rb.get("value")
    if va is None or vb is None or len(va) != len(vb):
        value_err = 0.0 if va is None and vb is None else float("inf")
    else:
        value_err = max((_array_error(a, b) for a, b in zip(va, vb)), default=0.0)
    ga, gb = ra.get("grads") or {}, rb.get("grads") or {}
    if ga.keys() != gb.keys():
        grad_err = float("inf")
    else:
        grad_err = max((_array_error(ga[k], gb[k]) for k in ga), default=0.0)
    return value_err, grad_err


def _by_loss(records: list) -> dict[int, list]:
    out: dict[int, list] = {}
    for rec in records:
        out.setdefault(rec["loss"], []).append(rec)
    return out


def summarize(ref: list | None, other: list | None) -> dict | None:
    """Call-by-call comparison of two runs' records: how many calls each, how many pairs
    (k-th call of the same loss object) had the same inputs, the largest value and gradient
    errors on those pairs, and the largest difference between the final states."""
    if ref is None or other is None:
        return None
    a, b = _by_loss(ref), _by_loss(other)
    same, value_err, grad_err = 0, 0.0, 0.0
    for loss, calls_a in a.items():
        for ra, rb in zip(calls_a, b.get(loss, [])):
            if _input_gap(ra, rb) <= SAME_INPUT_RTOL:
                same += 1
                v, g = _call_errors(ra, rb)
                value_err, grad_err = max(value_err, v), max(grad_err, g)
    return {
        "calls": [len(ref), len(other)],
        "calls_per_loss": [[len(v) for v in a.values()], [len(v) for v in b.values()]],
        "same_input_pairs": same,
        "value_error": value_err,
        "gradient_error": grad_err,
        "final_state_error": final_states(ref, other),
    }


def compare_calls(ref: list | None, other: list | None, rtol: float, atol: float = 0.0):
    """('same'/'different'/'none', first difference): values and gradients of the calls
    made on the same inputs agree within ``rtol`` (relative to their size)."""
    summary = summarize(ref, other)
    if summary is None or summary["same_input_pairs"] == 0:
        return "none", ""
    for what in ("value_error", "gradient_error"):
        if summary[what] > rtol:
            return (
                "different",
                f"{what.replace('_', ' ')} {summary[what]:.2e} on calls with the same inputs",
            )
    return "same", ""


def final_states(ref: list, other: list) -> float:
    """Largest relative difference between the last calls of each loss object (inputs and
    value); inf when the runs used different numbers of loss objects."""
    a, b = _by_loss(ref), _by_loss(other)
    if a.keys() != b.keys() or not a:
        return float("inf")
    worst = 0.0
    for loss in a:
        ra, rb = a[loss][-1], b[loss][-1]
        worst = max(worst, _input_gap(ra, rb), _call_errors(ra, rb)[0])
    return worst
