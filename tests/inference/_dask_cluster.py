"""Run a joblib-parallel call on an in-process two-worker Dask cluster (tests only)."""

from __future__ import annotations

from typing import Any, Callable

import pytest


def on_local_dask_cluster(run: Callable[..., Any]) -> Any:
    """``run(n_jobs=-1)`` with joblib's Dask backend on a ``LocalCluster``.

    Skips the calling test when dask.distributed is not installed.
    """
    distributed = pytest.importorskip("dask.distributed")
    import joblib

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            return run(n_jobs=-1)
