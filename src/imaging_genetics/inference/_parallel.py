"""Parallel execution of independent evaluation tasks, with an optional results store.

Every evaluation routine of :mod:`imaging_genetics.inference` (cross-validation
folds, grid points, permutations, subsamples) is a list of independent *tasks*,
each identified by a string key. :func:`run_tasks` runs them through joblib, so

* ``n_jobs`` spreads them over local processes, and
* ``with joblib.parallel_config(backend="dask"): ...`` sends the same tasks to a
  Dask cluster without any change to the calling code.

Reproducibility. Nothing depends on the order in which tasks finish: every task
receives its own seed from :func:`derive_seed` (a function of the run's
``random_state`` and the task key only), and results are collected in a mapping
keyed by task. ``n_jobs=1``, ``n_jobs=2`` and a Dask cluster give bit-identical
numbers.

Results store. With a ``results_path``, each finished task is appended to a JSON
lines file as it completes (one line per task, written with a single ``write`` and
flushed to disk). A run that is killed leaves at most one incomplete last line,
which is ignored (and cut off) when the store is read again. Running again with
``resume=True`` loads the finished tasks and only runs the rest. The first line of
the file records a fingerprint of the run's configuration (estimator parameters,
grid, folds, seed and a hash of the data); resuming with a different configuration
raises ``ValueError`` instead of silently mixing results.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "derive_seed",
    "base_seed",
    "fingerprint",
    "ResultStore",
    "run_tasks",
    "encode",
    "decode",
]

_HEADER = "__run__"


# --------------------------------------------------------------------------- seeds
def base_seed(random_state: Any) -> int:
    """Turn a ``random_state`` (None, int, RandomState, Generator) into one integer.

    ``None`` draws fresh entropy (the run is then not reproducible); an int is used
    as is; a ``RandomState`` or ``Generator`` is asked for one integer, once.
    """
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(random_state, (bool, np.bool_)):
        raise TypeError(f"random_state must be None, an int or a numpy random generator, got {random_state!r}")
    if isinstance(random_state, (int, np.integer)):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    raise TypeError(f"random_state must be None, an int or a numpy random generator, got {type(random_state).__name__}")


def _key_words(keys: Sequence[Any]) -> list[int]:
    words = []
    for k in keys:
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 0:
            words.append(int(k) % (2**32))
        else:
            words.append(zlib.crc32(str(k).encode("utf-8")))
    return words


def derive_seed(seed: int, *keys: Any) -> int:
    """A 32-bit seed that depends only on ``seed`` and the task ``keys``.

    Uses :class:`numpy.random.SeedSequence` with the keys as its spawn key, so seeds
    of different tasks are statistically independent and never depend on the order
    in which tasks are created or finished.
    """
    ss = np.random.SeedSequence(int(seed), spawn_key=tuple(_key_words(keys)))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


# --------------------------------------------------------------------------- JSON
def encode(value: Any) -> Any:
    """JSON-ready form of nested results; float64 arrays round-trip exactly."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if np.isfinite(v) else {"__float__": repr(v)}
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        if arr.dtype == object:
            return {"__list__": [encode(v) for v in arr.tolist()]}
        return {"__nd__": arr.dtype.str, "shape": list(arr.shape), "data": [encode(v) for v in arr.ravel().tolist()]}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    raise TypeError(f"cannot store a value of type {type(value).__name__} in the results store")


def decode(value: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__float__" in value:
            return float(value["__float__"])
        if "__nd__" in value:
            data = [decode(v) for v in value["data"]]
            return np.array(data, dtype=np.dtype(value["__nd__"])).reshape(value["shape"])
        if "__list__" in value:
            return [decode(v) for v in value["__list__"]]
        return {k: decode(v) for k, v in value.items()}
    return value


def _hash_array(h: "hashlib._Hash", a: Any) -> None:
    if hasattr(a, "to_numpy"):
        a = a.to_numpy()
    if hasattr(a, "tocsr"):
        # a sparse prior network: hash its canonical CSR parts, never a dense copy
        # (a dense p x p graph of a genome-wide SNP set would not fit in memory)
        a = a.tocsr(copy=True)
        a.sum_duplicates()
        a.sort_indices()
        h.update(b"csr" + str(a.shape).encode())
        for part in (a.indptr, a.indices):
            h.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(a.data, dtype=np.float64).tobytes())
        return
    arr = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
    h.update(str(arr.shape).encode())
    h.update(arr.tobytes())


def fingerprint(config: Mapping[str, Any], arrays: Iterable[Any] = ()) -> str:
    """SHA-256 of a configuration (JSON with ``repr`` fallback) and data arrays."""
    h = hashlib.sha256()
    h.update(json.dumps(config, sort_keys=True, default=repr).encode("utf-8"))
    for a in arrays:
        _hash_array(h, a)
    return h.hexdigest()


# --------------------------------------------------------------------------- store
class ResultStore:
    """Append-only JSON-lines file of finished tasks.

    Line 1: ``{"__run__": fingerprint}``; then one ``{"key": ..., "result": ...}``
    per finished task. Each line is written with one ``os.write`` on a file opened
    in append mode and ``fsync``-ed, so a killed run loses at most the line being
    written; such a partial last line is ignored and cut off on the next open.

    Parameters
    ----------
    path : str or Path
    fingerprint : str
        Identity of the run's configuration and data.
    resume : bool
        True: keep the tasks already in the file (after checking the fingerprint).
        False: start a new file (an existing one is replaced).
    """

    def __init__(self, path: str | os.PathLike, fingerprint: str, *, resume: bool = False) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.finished: dict[str, Any] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.path.exists():
            self._load()
        else:
            self._start()

    def _start(self) -> None:
        from ..base import atomic_write_bytes

        line = json.dumps({_HEADER: self.fingerprint}) + "\n"
        atomic_write_bytes(self.path, lambda fh: fh.write(line.encode("utf-8")))

    def _load(self) -> None:
        raw = self.path.read_bytes()
        good_end = 0
        header = None
        pos = 0
        while pos < len(raw):
            nl = raw.find(b"\n", pos)
            if nl < 0:
                break  # incomplete last line of a killed run
            try:
                entry = json.loads(raw[pos:nl].decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                break
            if header is None:
                if not isinstance(entry, dict) or _HEADER not in entry:
                    raise ValueError(f"results_path: {self.path} is not a results store of this package (no header line)")
                header = entry[_HEADER]
            else:
                self.finished[str(entry["key"])] = decode(entry["result"])
            pos = nl + 1
            good_end = pos
        if header is None:
            self._start()
            return
        if header != self.fingerprint:
            raise ValueError(
                f"results_path: {self.path} holds results of a different run (other data, "
                "parameters, grid, folds or seed); use another path, or resume=False to start over"
            )
        if good_end < len(raw):
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)

    def append(self, key: str, result: Any) -> None:
        """Write one finished task as one line."""
        line = (json.dumps({"key": key, "result": encode(result)}) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.finished[key] = result


# --------------------------------------------------------------------------- run
def _call(key: str, func: Callable, kwargs: dict) -> tuple[str, Any]:
    return key, func(**kwargs)


def _progress_bar(total: int, description: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
    return prog, prog.add_task(description, total=total)


def run_tasks(
    func: Callable[..., Any],
    tasks: Sequence[tuple[str, dict]],
    *,
    n_jobs: int | None = 1,
    store: ResultStore | None = None,
    progress: bool | Callable[[int, int], None] = False,
    description: str = "tasks",
) -> dict[str, Any]:
    """Run ``func(**kwargs)`` for every ``(key, kwargs)`` in ``tasks``.

    Parameters
    ----------
    func : callable
        Must be importable at module level (so that worker processes can load it)
        and return values :func:`encode` can store when a ``store`` is used.
    tasks : sequence of (str, dict)
        Unique keys and keyword arguments.
    n_jobs : int or None
        joblib ``n_jobs``; the backend is whatever ``joblib.parallel_config`` sets
        (loky processes by default, Dask inside ``parallel_config(backend="dask")``).
    store : ResultStore, optional
        Tasks already in the store are skipped; every newly finished task is
        appended to it as soon as it completes.
    progress : bool or callable
        True shows a rich progress bar; a callable receives ``(done, total)``.

    Returns
    -------
    dict mapping every key of ``tasks`` to its result (finished earlier or now).
    """
    from joblib import Parallel, delayed

    keys = [k for k, _ in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("tasks: keys must be unique")
    results: dict[str, Any] = {}
    todo = []
    for key, kwargs in tasks:
        if store is not None and key in store.finished:
            results[key] = store.finished[key]
        else:
            todo.append((key, kwargs))
    total, done = len(tasks), len(results)
    bar = None
    callback = progress if callable(progress) else None
    if progress is True and todo:
        bar, bar_task = _progress_bar(total, description)
        bar.start()
        bar.update(bar_task, completed=done)

    def _finished(key: str, value: Any) -> None:
        nonlocal done
        results[key] = value
        if store is not None:
            store.append(key, value)
        done += 1
        if bar is not None:
            bar.update(bar_task, completed=done)
        if callback is not None:
            callback(done, total)

    try:
        if todo:
            jobs = (delayed(_call)(key, func, kwargs) for key, kwargs in todo)
            try:
                gen = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs)
                for key, value in gen:
                    _finished(key, value)
            except ValueError as exc:  # a backend without generator support
                if "does not support return_as" not in str(exc):
                    raise
                jobs = (delayed(_call)(key, func, kwargs) for key, kwargs in todo)
                for key, value in Parallel(n_jobs=n_jobs)(jobs):
                    _finished(key, value)
    finally:
        if bar is not None:
            bar.stop()
    return {k: results[k] for k in keys}
