"""Every performance target of the project, measured in one run, with PASS/FAIL.

Usage::

    python benchmarks/run.py              # all targets (about 20 minutes on 2 cores)
    python -m benchmarks --only nmf       # one family: nmf or cca
    python -m benchmarks --quick          # smaller sizes, a smoke run (a few minutes)
    python -m benchmarks --full           # exact sizes for the restart and grid targets

Each target compares our code with its reference *in the same run*: timings are
interleaved and the best of ``--repeat`` is kept, so load from other processes
affects both sides alike. The machine's GEMM rate (a 2000 x 2000 float64 matrix
product, default BLAS threads) is measured at the start and again before each
family; the best rate seen is used, which makes every "FLOP bound" (operation
count / GEMM rate) as strict as possible. Peak memory is the resident set size of
a fresh child process (:func:`benchmarks._harness.run_isolated`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

if __package__ in (None, ""):  # `python benchmarks/run.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"

from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

from benchmarks._harness import Result, gemm_rate, print_table  # noqa: E402


def _blas_description() -> str:
    info = [f"{d.get('internal_api')} {d.get('version')} ({d.get('num_threads')} threads)"
            for d in threadpool_info() if d.get("user_api") == "blas"]
    return ", ".join(info) or "unknown BLAS"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Performance targets with PASS/FAIL")
    ap.add_argument("--only", choices=("nmf", "cca"), action="append",
                    help="run one family (repeatable); default all")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    ap.add_argument("--full", action="store_true",
                    help="exact sizes for the restart and grid targets instead of a measured fraction")
    ap.add_argument("--repeat", type=int, default=3, help="best-of-N for interleaved timings")
    args = ap.parse_args(argv)
    families = args.only or ["nmf", "cca"]

    t_start = time.perf_counter()
    rate = gemm_rate()
    with threadpool_limits(1, "blas"):
        rate1 = gemm_rate()
    print(f"BLAS: {_blas_description()}; cores: {os.cpu_count()}")
    print(f"GEMM rate: {rate / 1e9:.1f} GFLOP/s (default threads), {rate1 / 1e9:.1f} GFLOP/s (1 thread)")
    results: list[Result] = []
    for fam in families:
        rate = max(rate, gemm_rate())
        t0 = time.perf_counter()
        if fam == "nmf":
            from benchmarks import targets_nmf as mod
        else:
            from benchmarks import targets_cca as mod
        results += mod.run(rate, quick=args.quick, full=args.full, repeat=args.repeat)
        print(f"[{fam}: {time.perf_counter() - t0:.0f} s]", flush=True)
    print(f"\nGEMM rate used for FLOP bounds: {rate / 1e9:.1f} GFLOP/s\n")
    print_table(results)
    print(f"total {time.perf_counter() - t_start:.0f} s")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
