"""Evaluation metrics for the CCA family (spec sparse_cca.md §11.1).

* :func:`canonical_correlations` — canonical correlation of each task on given
  (e.g. held-out) data, using the fitted weights and the training standardisation.
* :func:`feature_selection_auc` — ROC AUC of ``|weights|`` against the true support,
  per task or for the row norms across tasks.
* :func:`estimation_accuracy` — ``|cos|`` between estimated and true weights.
* :func:`timed_fit` — wall time and peak memory of one fit.
* :func:`align_signs` — sign alignment of weight vectors before averaging.

Memory is the *process resident set size* (RSS) measured by the operating system,
not an estimate from array sizes. On Linux the kernel's high-water mark ``VmHWM`` is
reset just before the fit (``/proc/self/clear_refs``), so ``peak_memory_mb`` is the
peak RSS reached during the fit and ``fit_memory_mb`` is that peak minus the RSS
just before it (the memory the fit needed on top of what the process already
held). Memory freed by earlier work but still held by the C allocator would be
reused without showing as growth (the second of two identical fits in one process
read 0 MiB where the first read 3.5), so on glibc the free heap is returned to the
system (``malloc_trim``, well under a millisecond) before the baseline is read.
Where the reset is unavailable, a background thread samples the RSS (psutil)
every millisecond instead. Run fits in separate processes (the default joblib
backend) so that parallel fits do not share one RSS.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .._stats import norm, pearson, vdot
from .._validation import _row_labels, reorder_by_index

__all__ = [
    "canonical_correlations",
    "feature_selection_auc",
    "estimation_accuracy",
    "roc_points",
    "align_signs",
    "timed_fit",
    "FitRecord",
    "first_component",
]

_EPS = np.finfo(np.float64).eps


def first_component(estimator: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """First canonical component of a fitted estimator.

    Returns
    -------
    x_weights : ndarray (p, Kx)
        ``x_weights_`` (``Kx`` = K, or 1 for a model with one SNP vector shared by
        all tasks); with ``n_components > 1`` the first component.
    y_weights : list of K ndarrays (q_k,)
    """
    W = np.asarray(estimator.x_weights_, dtype=np.float64)
    if W.ndim == 1:
        W = W[:, None]
    elif W.ndim == 3:
        W = W[:, :, 0]
    Vs = []
    for v in estimator.y_weights_:
        v = np.asarray(v, dtype=np.float64)
        Vs.append(v[:, 0] if v.ndim == 2 else v)
    return W, Vs


def canonical_correlations(estimator: Any, X: Any, Ys: Sequence[Any]) -> np.ndarray:
    """Canonical correlation of each task on (X, Ys) with a fitted estimator's weights.

    ``corr(X u_k, Y_k v_k)`` computed from ``estimator.transform`` (which applies
    the training standardisation), first component. On held-out samples this is
    the test CCC of the paper; on the training samples the training CCC.

    Parameters
    ----------
    estimator : fitted CCA-family estimator
    X : array-like (n, p)
    Ys : list of K array-likes (n, q_k)

    Returns
    -------
    ndarray (K,)
    """
    xs, ys = estimator.transform(X, Ys)
    xs = np.asarray(xs, dtype=np.float64)
    out = []
    for k, y in enumerate(ys):
        col = 0 if xs.shape[1] == 1 else k  # one shared SNP variate for every task
        a = xs[:, col] if xs.ndim == 2 else xs[:, col, 0]
        y = np.asarray(y, dtype=np.float64)
        b = y if y.ndim == 1 else y[:, 0]
        out.append(pearson(a, b))
    return np.asarray(out, dtype=np.float64)


# --------------------------------------------------------------------------- AUC
def _as_columns(values: Any, name: str) -> list[np.ndarray]:
    """A vector, a (p, K) matrix or a list of vectors -> list of 1-D float arrays."""
    if isinstance(values, (list, tuple)) and values and all(np.ndim(v) == 0 for v in values):
        values = np.asarray(values)  # a plain list of numbers is one vector, not K of length 1
    if isinstance(values, (list, tuple)):
        cols = [np.asarray(v, dtype=np.float64).ravel() for v in values]
        if not cols:
            raise ValueError(f"{name}: empty list")
        return cols
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        return [arr]
    if arr.ndim == 2:
        return [arr[:, k] for k in range(arr.shape[1])]
    raise ValueError(f"{name}: expected a vector, a (p, K) matrix or a list of vectors, got shape {arr.shape}")


def _auc(score: np.ndarray, label: np.ndarray, name: str) -> float:
    from scipy.stats import rankdata

    if score.shape != label.shape:
        raise ValueError(f"truth_mask: {label.shape[0]} entries, but {name} has {score.shape[0]}")
    if not np.isfinite(score).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    n_pos = int(label.sum())
    n_neg = label.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("truth_mask: needs both true (signal) and false (noise) features for an AUC; "
                         f"got {n_pos} true and {n_neg} false")
    ranks = rankdata(score)  # average ranks for ties, as roc_auc_score
    return float((ranks[label].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _by_feature(weights: Any, truth: Any, name: str) -> Any:
    """``truth`` (Series or DataFrame indexed by feature) in the row order of labelled
    ``weights`` (e.g. a weights table read back from CSV); anything else unchanged."""
    labels = _row_labels(weights)
    return reorder_by_index(truth, None if labels is None else [str(x) for x in labels], name, "its index",
                            "features of weights", "index it by the weights' feature names, or pass plain arrays "
                            "in the order of the weights")


def _mask_columns(truth_mask: Any, n_cols: int) -> list[np.ndarray]:
    cols = _as_columns(truth_mask, "truth_mask")
    if any(np.isnan(c).any() for c in cols):
        raise ValueError("truth_mask: contains NaN; give True/False (or 1/0) for every feature")
    cols = [np.asarray(c != 0) for c in cols]
    if len(cols) == 1 and n_cols > 1:
        cols = cols * n_cols
    if n_cols == 1 and len(cols) > 1 and len({c.shape for c in cols}) == 1:
        # one weight vector shared by the tasks (e.g. JCB-SCCA's u): its support is the union
        cols = [np.logical_or.reduce(cols)]
    if len(cols) != n_cols:
        raise ValueError(f"truth_mask: {len(cols)} columns, but weights have {n_cols} tasks")
    return cols


def feature_selection_auc(weights: Any, truth_mask: Any, *, per_task: bool = False) -> float | np.ndarray:
    """ROC AUC of the estimated weights against the true support.

    Score = ``|weight|`` (or the Euclidean row norm across tasks), label = feature in
    the true support. Equals ``sklearn.metrics.roc_auc_score(label, score)``
    (ties get the average rank); computed from the continuous weights, not from a
    thresholded selection (spec decision 10).

    Parameters
    ----------
    weights : ndarray (p,), ndarray (p, K), or list of K ndarrays (q_k,)
        Estimated weights, e.g. ``x_weights_`` or ``y_weights_``.
    truth_mask : array-like of bool, same layout as ``weights`` or (p,)
        True support (nonzero true weight). A (p,) mask is used for every task;
        a (p, K) mask against one weight vector (a model whose SNP weights are
        shared by the tasks) is reduced to the union of the task supports.
    per_task : bool, default False
        False: one AUC; for several tasks the score of a feature is its row norm
        across tasks and its label "in the support of any task" (equal lengths
        needed). True: ndarray (K,) with the AUC of each task's weights.

    Returns
    -------
    float, or ndarray (K,) when ``per_task``.

    Raises
    ------
    ValueError
        Shapes disagree, NaN weights, or the mask has no positive or no negative.

    Labelled weights and mask (pandas objects indexed by feature) are matched by
    feature name.
    """
    truth_mask = _by_feature(weights, truth_mask, "truth_mask")
    cols = _as_columns(weights, "weights")
    masks = _mask_columns(truth_mask, len(cols))
    if per_task:
        return np.array([_auc(np.abs(w), m, f"weights[{k}]") for k, (w, m) in enumerate(zip(cols, masks))])
    if len(cols) == 1:
        return _auc(np.abs(cols[0]), masks[0], "weights")
    if len({c.shape[0] for c in cols}) != 1:
        raise ValueError("weights: row norms across tasks need equal lengths; use per_task=True "
                         f"for lengths {[c.shape[0] for c in cols]}")
    score = np.sqrt(np.sum(np.column_stack(cols) ** 2, axis=1))
    label = np.logical_or.reduce(masks)
    return _auc(score, label, "weights")


def roc_points(weights: Any, truth_mask: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """(false-positive rates, true-positive rates, AUC) for a ROC figure.

    ``weights`` as in :func:`feature_selection_auc` (row norms across tasks).
    """
    from sklearn.metrics import roc_curve

    truth_mask = _by_feature(weights, truth_mask, "truth_mask")
    auc = feature_selection_auc(weights, truth_mask)  # validates first
    cols = _as_columns(weights, "weights")
    masks = _mask_columns(truth_mask, len(cols))
    score = np.abs(cols[0]) if len(cols) == 1 else np.sqrt(np.sum(np.column_stack(cols) ** 2, axis=1))
    label = masks[0] if len(cols) == 1 else np.logical_or.reduce(masks)
    fpr, tpr, _ = roc_curve(label, score)
    return fpr, tpr, auc


def estimation_accuracy(weights: Any, true_weights: Any) -> float | np.ndarray:
    """Estimation accuracy: ``|cos(w_hat, w_true)|`` (1 = exact up to sign and scale).

    Parameters
    ----------
    weights : ndarray (p,), (p, K) or list of K ndarrays (q_k,)
    true_weights : same layout, or (p,) used for every task

    Returns
    -------
    float for a vector, ndarray (K,) otherwise. A zero vector gives 0.
    """
    cols = _as_columns(weights, "weights")
    truth = _as_columns(_by_feature(weights, true_weights, "true_weights"), "true_weights")
    if len(truth) == 1 and len(cols) > 1:
        truth = truth * len(cols)
    if len(truth) != len(cols):
        raise ValueError(f"true_weights: {len(truth)} columns, but weights have {len(cols)}")
    out = []
    for k, (w, t) in enumerate(zip(cols, truth)):
        if w.shape != t.shape:
            raise ValueError(f"true_weights: column {k} has {t.shape[0]} entries, weights {w.shape[0]}")
        for name, v in (("weights", w), ("true_weights", t)):
            if not np.isfinite(v).all():
                raise ValueError(f"{name}: column {k} contains NaN or infinite values")
        # each vector divided by its own norm first: the cosine does not depend on the
        # weights' scale, which may be far below 1 (an absolute floor would call it 0)
        nw, nt = norm(w), norm(t)
        out.append(min(1.0, abs(vdot(w / nw, t / nt))) if nw > 0.0 and nt > 0.0 else 0.0)
    arr = np.asarray(out)
    single = not isinstance(weights, (list, tuple)) and np.asarray(weights).ndim == 1
    return float(arr[0]) if single else arr


# --------------------------------------------------------------------------- signs
def align_signs(x_weights: np.ndarray, y_weights: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """Sign-align weights of several fits (e.g. CV folds) before averaging.

    Canonical pairs are defined up to a joint sign flip of (u_k, v_k). Each fit's
    pair is flipped so that its SNP weights point the same way as the running sum
    of the already aligned fits (the first fit is the reference); when the SNP
    weights are ~0 the imaging weights decide.

    Parameters
    ----------
    x_weights : ndarray (F, p, Kx)
        SNP weights of F fits (Kx = K tasks, or 1 when one vector is shared).
    y_weights : list of K ndarrays (F, q_k), optional
        Imaging weights of the same fits; flipped together with the SNP weights.

    Returns
    -------
    (x_aligned (F, p, Kx), y_aligned list of K (F, q_k) or None)
    """
    U = np.array(x_weights, dtype=np.float64, copy=True)
    if U.ndim != 3:
        raise ValueError(f"x_weights: expected shape (n_fits, p, K), got {U.shape}")
    F, _, Kx = U.shape
    V = None if y_weights is None else [np.array(v, dtype=np.float64, copy=True) for v in y_weights]
    K = Kx if V is None else len(V)
    if V is not None and Kx > 1 and len(V) != Kx:
        raise ValueError(f"y_weights: {len(V)} tasks, but x_weights have {Kx} columns")
    for k in range(K if Kx > 1 else 1):
        ref_u = np.zeros(U.shape[1])
        ref_v = [np.zeros(v.shape[1]) for v in (V or [])]
        tasks = [k] if Kx > 1 else list(range(K))
        for f in range(F):
            s = float(U[f, :, k] @ ref_u)
            if abs(s) <= _EPS and V is not None:
                s = float(sum(V[t][f] @ ref_v[t] for t in tasks))
            if s < 0:
                U[f, :, k] *= -1.0
                if V is not None:
                    for t in tasks:
                        V[t][f] *= -1.0
            ref_u += U[f, :, k]
            if V is not None:
                for t in tasks:
                    ref_v[t] += V[t][f]
    return U, V


# --------------------------------------------------------------------------- time, memory
def _read_status(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _release_free_heap() -> None:
    """Return the C allocator's free memory to the system (glibc only; else nothing)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _read_status("VmHWM") is not None
    except OSError:
        return False


class _RSSSampler:
    """Peak RSS by sampling (psutil) in a background thread."""

    def __init__(self, interval: float = 0.001) -> None:
        import psutil

        self._proc = psutil.Process()
        self.interval = interval
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


@dataclass
class FitRecord:
    """Outcome of :func:`timed_fit`.

    Attributes
    ----------
    estimator : the fitted estimator
    fit_time_s : float, wall-clock seconds of ``fit``
    peak_memory_mb : float, peak process RSS during the fit (MiB); NaN if unavailable
    fit_memory_mb : float, peak RSS minus the RSS before the fit (MiB)
    memory_method : str, ``"vmhwm"`` (kernel high-water mark), ``"sampled"`` or ``"none"``
    """

    estimator: Any
    fit_time_s: float
    peak_memory_mb: float
    fit_memory_mb: float
    memory_method: str


def timed_fit(estimator: Any, X: Any, Ys: Sequence[Any], **fit_params: Any) -> FitRecord:
    """Fit ``estimator`` on (X, Ys) and measure wall time and peak process RSS.

    See the module docstring for how memory is measured.
    """
    mib = 1024.0 * 1024.0
    _release_free_heap()
    if _reset_hwm():
        before = _read_status("VmRSS") or 0
        t0 = time.perf_counter()
        estimator.fit(X, Ys, **fit_params)
        elapsed = time.perf_counter() - t0
        peak = _read_status("VmHWM") or 0
        return FitRecord(estimator, elapsed, peak / mib, max(peak - before, 0) / mib, "vmhwm")
    try:
        sampler = _RSSSampler()
    except Exception:  # no psutil: time only
        t0 = time.perf_counter()
        estimator.fit(X, Ys, **fit_params)
        return FitRecord(estimator, time.perf_counter() - t0, float("nan"), float("nan"), "none")
    before = sampler.peak
    with sampler:
        t0 = time.perf_counter()
        estimator.fit(X, Ys, **fit_params)
        elapsed = time.perf_counter() - t0
    return FitRecord(estimator, elapsed, sampler.peak / mib, max(sampler.peak - before, 0) / mib, "sampled")
