"""Run a joint NMF penalty grid on a Dask cluster, streamed to a resumable results file.

The same code runs on one machine (``n_jobs``) or on a cluster: every parallel loop
of ``imaging_genetics`` goes through joblib, and ``joblib.parallel_config(
backend="dask")`` hands its tasks to whatever ``dask.distributed.Client`` is
active. Here the cluster is a ``LocalCluster`` on this machine; for a real cluster
replace it with ``Client("tcp://scheduler:8786")`` (or a dask-jobqueue cluster).

Each finished setting is appended to ``--store`` as it completes. Kill the run at
any point and start it again with the same arguments: settings already in the file
are not fitted again.

Usage::

    pip install "dask[distributed]"
    python examples/dask_grid_search.py --store grid.jsonl --workers 2
    python examples/dask_grid_search.py --store grid.jsonl --workers 2 --full  # 6^4 = 1296 settings

Without ``--full`` the grid has two values per penalty (16 settings) and the data
are a small simulation, so the script finishes in well under a minute.
"""

from __future__ import annotations

import argparse

import joblib
import numpy as np
import scipy.sparse as sp

from imaging_genetics.inference.nmf_selection import PAPER_GRID, nmf_grid_search
from imaging_genetics.nmf import JCBSNMF


def simulated_data(n=60, sizes=(20, 120, 50), k=3, seed=0):
    """Three nonnegative modalities sharing a planted basis, with sparse priors."""
    rng = np.random.RandomState(seed)
    W = rng.rand(n, k)
    Xs = [W @ rng.rand(k, p) + 0.2 * rng.rand(n, p) for p in sizes]
    cross = {(0, 1): sp.random(sizes[0], sizes[1], density=0.05, random_state=rng, format="csr"),
             (0, 2): sp.random(sizes[0], sizes[2], density=0.05, random_state=rng, format="csr"),
             (1, 2): sp.random(sizes[1], sizes[2], density=0.05, random_state=rng, format="csr")}
    graphs = []
    for p in sizes:
        S = sp.random(p, p, density=0.05, random_state=rng, format="csr")
        S = sp.triu(S, 1)
        graphs.append((S + S.T).tocsr())
    return Xs, cross, graphs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="grid.jsonl", help="JSON-lines results file (resumable)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    ap.add_argument("--full", action="store_true", help="the paper's 1296-setting grid")
    args = ap.parse_args(argv)

    from dask.distributed import Client, LocalCluster

    Xs, cross, graphs = simulated_data()
    values = PAPER_GRID if args.full else (1e-3, 1.0)
    grid = {name: list(values) for name in ("cross_strength", "smoothness", "basis_penalty", "sparsity")}
    estimator = JCBSNMF(n_components=3, n_restarts=2, max_iter=100, tol=1e-5, random_state=0)

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        print(f"cluster: {client}")
        with joblib.parallel_config(backend="dask"):
            table = nmf_grid_search(Xs, cross_adjacency=cross, graphs=graphs, estimator=estimator,
                                    param_grid=grid, n_jobs=-1, store=args.store,
                                    progress=lambda done, total: print(f"\r{done}/{total} settings", end=""))
    print()
    print(table.sort_values("rank").head(5).to_string(index=False))
    print(f"best setting (group {table.attrs['best_group']}): {table.attrs['best']}")
    return table


if __name__ == "__main__":
    main()
