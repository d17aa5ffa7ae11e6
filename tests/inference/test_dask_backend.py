"""Grid searches on a Dask cluster, batched grids, and resuming a killed search."""

import warnings

import numpy as np
import pandas as pd
import pytest

from imaging_genetics.inference.nmf_selection import nmf_grid_search
from imaging_genetics.nmf import JCBSNMF

from _dask_cluster import on_local_dask_cluster

GRID = {"cross_strength": [1e-3, 1.0], "smoothness": [1e-3, 0.1], "basis_penalty": [1e-3, 1.0],
        "sparsity": [1e-2, 10.0]}
NUMBERS = ["reconstruction_error", "relative_error", "objective"]


def _problem():
    rng = np.random.RandomState(11)
    W = rng.rand(24, 3)
    sizes = (9, 14, 11)
    Xs = [W @ rng.rand(3, p) + 0.1 * rng.rand(24, p) for p in sizes]
    cross = {(0, 1): (rng.rand(9, 14) < 0.3).astype(float), (1, 2): (rng.rand(14, 11) < 0.3).astype(float)}
    graphs = []
    for p in sizes:
        S = np.triu((rng.rand(p, p) < 0.3).astype(float), 1)
        graphs.append(S + S.T)
    return Xs, cross, graphs


def _search(**kw):
    Xs, cross, graphs = _problem()
    est = JCBSNMF(n_components=3, n_restarts=2, max_iter=40, tol=0, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nmf_grid_search(Xs, cross_adjacency=cross, graphs=graphs, estimator=est, param_grid=GRID, **kw)


def test_grid_search_on_a_local_dask_cluster_equals_n_jobs_1():
    ref = _search(n_jobs=1)
    got = on_local_dask_cluster(_search)
    pd.testing.assert_frame_equal(ref, got)
    assert got.attrs["best_group"] == ref.attrs["best_group"]


def test_batched_grid_selects_what_a_one_at_a_time_loop_selects():
    batched = _search()
    loop = _search(batched=False)
    assert len(batched) == 16
    np.testing.assert_allclose(batched[NUMBERS], loop[NUMBERS], rtol=1e-9)
    assert (batched["n_iter"] == loop["n_iter"]).all() and (batched["bounded"] == loop["bounded"]).all()
    assert batched.attrs["best_group"] == loop.attrs["best_group"]
    # the penalties matter, so the check above compares genuinely different settings
    assert batched["reconstruction_error"].max() > 1.5 * batched["reconstruction_error"].min()


class _Killed(Exception):
    pass


def test_killed_search_resumes_without_refitting_finished_settings(tmp_path):
    full = _search()
    store = tmp_path / "grid.jsonl"
    kill_after = 6

    def killer(done, total):
        if done == kill_after:
            raise _Killed

    with pytest.raises(_Killed):
        _search(store=store, progress=killer)
    lines = store.read_text().splitlines()
    assert len(lines) == 1 + kill_after  # header + every finished setting, written as it finished
    # a kill in the middle of a write leaves half a line; it is dropped on resume
    store.write_text("\n".join(lines) + "\n" + lines[-1][: len(lines[-1]) // 2])
    calls = []
    resumed = _search(store=store, progress=lambda done, total: calls.append(done))
    assert calls == list(range(kill_after + 1, 17))  # only the unfinished settings were fitted
    assert resumed["group"].tolist() == list(range(1, 17))
    np.testing.assert_allclose(resumed[NUMBERS], full[NUMBERS], rtol=1e-9)
    assert resumed.attrs["best_group"] == full.attrs["best_group"]
    assert len(store.read_text().splitlines()) == 1 + 16
    calls.clear()
    again = _search(store=store, progress=lambda done, total: calls.append(done))
    assert calls == []  # everything finished: nothing is fitted again
    pd.testing.assert_frame_equal(again, resumed)
