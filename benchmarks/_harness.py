"""Shared measurement tools for the benchmarks.

* :func:`gemm_rate` — floating-point operations per second of a large matrix
  product on this machine, measured in the same run as the benchmark, so a
  "FLOP bound" (operation count / GEMM rate) is the fastest any implementation of a
  kernel could go here.
* :func:`timed` — best-of-``repeat`` wall time of a call.
* :func:`run_isolated` — run a function in a fresh process and report its peak
  resident memory (``ru_maxrss`` of that child), so one benchmark's memory does not
  hide another's.
* :class:`Result` and :func:`print_table` — one row per target with its measured
  ratio or time and PASS/FAIL.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["gemm_rate", "timed", "run_isolated", "Result", "print_table"]


def gemm_rate(n: int = 2000, dtype=np.float64, repeat: int = 3) -> float:
    """Best FLOP/s of an ``n x n`` by ``n x n`` product (2 n^3 operations)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    A @ B  # warm up the BLAS threads
    best = min(timed(lambda: A @ B, repeat=repeat)[0], float("inf"))
    return 2.0 * n**3 / best


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time over ``repeat`` calls, and the last call's result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _child(conn, fn, args, kwargs):
    try:
        t0 = time.perf_counter()
        value = fn(*args, **kwargs)
        elapsed = time.perf_counter() - t0
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send(("ok", value, elapsed, peak_kib * 1024))
    except BaseException as exc:  # report, do not hang the parent
        conn.send(("error", repr(exc), 0.0, 0))
    finally:
        conn.close()


def run_isolated(fn: Callable, *args, timeout: float | None = None, **kwargs) -> tuple[Any, float, int]:
    """Run ``fn(*args, **kwargs)`` in a fresh process.

    ``timeout`` (seconds): a child still running then is terminated and
    :class:`TimeoutError` raised, so one runaway target cannot stall the run.

    Returns
    -------
    value : the function's (picklable) return value
    seconds : wall time of the call inside the child
    peak_bytes : peak resident set size of the child process
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args, kwargs))
    proc.start()
    child.close()
    if timeout is not None and not parent.poll(timeout):
        proc.terminate()
        proc.join()
        raise TimeoutError(f"benchmark child did not finish within {timeout:.0f} s")
    status, value, seconds, peak = parent.recv()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"benchmark child failed: {value}")
    return value, seconds, peak


@dataclass
class Result:
    """One benchmark target and what was measured for it."""

    name: str
    measured: str
    target: str
    passed: bool
    details: dict = field(default_factory=dict)


def print_table(results: list[Result]) -> None:
    """Print the targets as an aligned table with PASS/FAIL."""
    headers = ("target", "measured", "goal", "")
    rows = [(r.name, r.measured, r.target, "PASS" if r.passed else "FAIL") for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    n_pass = sum(r.passed for r in results)
    print(f"\n{n_pass} of {len(results)} targets PASS")
