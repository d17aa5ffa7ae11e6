"""Performance targets of the structured sparse CCA family.

Targets
-------
1. MTS2CCA at n = 300, p = 5,000, q = 100, K = 3: a whole fit (to tol 1e-5) faster
   than ONE dense p x p solve — the Cholesky factorisation and solve of
   ``X'X + D`` (p^3 / 3 + 2 p^2 operations) that every iteration of the original
   MATLAB algorithm pays. Both are timed in the same run, best of N, interleaved.
2. MTS2CCA at n = 1,000, p = 200,000, q = 100, K = 3 finishes in under 3 minutes
   with peak memory (RSS of a fresh process, data included) under 4 GB. A dense
   X'X would need p^2 x 8 bytes = 320 GB. The fit standardises X in place
   (``copy=False``). The time includes building the SNP
   prior, a sparse LD graph over windows of 50 neighbouring SNPs
   (:func:`imaging_genetics.networks.ld_graph`); the all-pairs correlation
   network that MTS2CCA builds when given no prior has p^2 entries and is not an
   option at this size.
3. Single-task SCCA at least as fast as cca-zoo's ``PMDCCA`` (Witten et al.'s
   penalised matrix decomposition) on the same data, with at least equal
   held-out canonical correlation after tuning both: each method is tuned over a
   five-value grid of its sparsity parameter on a validation split; the chosen
   value is refitted on training + validation rows and scored on a test split.
   Time is the whole tuning run (five fits) of each method on the first data
   set; the held-out correlation is the mean over five simulated data sets
   (``SCCA_SEEDS``), because on a single one either method can win by chance.
   PASS/FAIL is for ``SCCA(covariance="diagonal")``, the model of the same family
   as PMD (diagonal within-view covariances, exact soft-thresholding steps); the
   default full-covariance SCCA (spec §6, the papers' baseline) is timed and
   scored on the same grid and printed in the same row.

Data: :func:`imaging_genetics.simulate.multitask_cca_data` for targets 1 and 3
(LD blocks, three modalities with population canonical correlations 0.8, 0.5,
0.2; target 3 uses the first modality only); target 2 draws X with independent
blocks of correlated SNPs and planted signal directly, because simulating a
genome-scale LD panel would dominate the run.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.linalg as la

from ._harness import Result, run_isolated, timed


def _mts2cca(**kw):
    from imaging_genetics.cca import MTS2CCA

    return MTS2CCA(**kw)


def dense_solve_seconds(p: int, repeat: int = 3) -> float:
    """Best time of one dense p x p Cholesky solve with 3 right-hand sides."""
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((p, 300))
    A = Z @ Z.T / 300 + np.eye(p)  # X'X / n + D: symmetric positive definite
    b = rng.standard_normal((p, 3))
    return timed(lambda: la.cho_solve(la.cho_factor(A, lower=True, check_finite=False), b,
                                      check_finite=False), repeat)[0]


def mts2cca_vs_dense(quick: bool, repeat: int) -> list[Result]:
    from imaging_genetics._products import dot, tdot
    from imaging_genetics.simulate import multitask_cca_data

    n, p, q = 300, 5000, 100
    X, Ys, truth = multitask_cca_data(n, p, q, random_state=0)
    model = _mts2cca(tol=1e-5, max_iter=1000, random_state=0)
    fit_best, solve_best = np.inf, np.inf
    for _ in range(repeat):  # interleaved
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_best = min(fit_best, timed(lambda: model.fit(X, Ys, x_adjacency=truth["x_adjacency"],
                                                             y_adjacency=truth["y_adjacency"]))[0])
        solve_best = min(solve_best, dense_solve_seconds(p, 1))
    ratio = fit_best / solve_best
    # what any implementation of this algorithm pays: every iteration reads X at least
    # twice (X' Y_k v_k for the SNP block, X u_k for the imaging block)
    XV = np.column_stack([Y[:, :1] for Y in Ys])
    passes = timed(lambda: dot(X, tdot(X, XV)), 20)[0]
    floor = model.n_iter_ * passes
    return [Result(
        "MTS2CCA fit n=300 p=5000 q=100 K=3 vs ONE dense p x p solve",
        f"{fit_best:.2f} s vs {solve_best:.2f} s = {ratio:.2f}x ({model.n_iter_} iterations; "
        f"floor {model.n_iter_} x {1e3 * passes:.2f} ms for two passes over X = {floor:.2f} s)",
        "< 1x",
        ratio < 1.0,
    )]


def _big_job(n, p, q, K, seed=0):
    """Fit MTS2CCA on genome-scale data inside a fresh process (data generated here)."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, p))
    block = 10
    # blocks of correlated SNP-like columns, generated a slice at a time
    for start in range(0, p, 20000):
        stop = min(p, start + 20000)
        m = stop - start
        base = rng.standard_normal((n, m // block + 1))
        X[:, start:stop] = 0.6 * np.repeat(base, block, axis=1)[:, :m] + 0.8 * rng.standard_normal((n, m))
    Ys = []
    for k in range(K):
        causal = rng.choice(p, 20, replace=False)
        z = X[:, causal].sum(axis=1)
        z /= z.std()
        Y = rng.standard_normal((n, q))
        Y[:, :10] += 0.7 * z[:, None]
        Ys.append(Y)
    from imaging_genetics.networks import ld_graph

    # copy=False: X is standardised in place, as a user with genome-scale data would
    # ask for, so the fit holds one (n, p) array instead of two
    model = _mts2cca(tol=1e-5, max_iter=1000, random_state=0, copy=False)
    t0 = time.perf_counter()
    # the SNP prior of a genome-wide run: an LD graph over windows of neighbouring
    # SNPs (sparse), not the all-pairs correlation network of the original code
    A = ld_graph(X, window=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, Ys, x_adjacency=A)
    return time.perf_counter() - t0, int(model.n_iter_)


def mts2cca_genome(quick: bool) -> list[Result]:
    n, p, q, K = (1000, 200_000, 100, 3) if not quick else (500, 20_000, 100, 3)
    try:
        # 10 minutes: three times the target, so a FAIL still shows how far off it is
        (fit_s, n_iter), total_s, peak = run_isolated(_big_job, n, p, q, K, timeout=600)
    except (RuntimeError, TimeoutError) as exc:
        return [Result(f"MTS2CCA n={n} p={p} K=3: time and peak RSS", f"failed: {exc}"[:120],
                       "< 180 s, < 4 GB", False)]
    ok = fit_s < 180 and peak < 4 * 2**30
    return [Result(
        f"MTS2CCA n={n} p={p:,} q={q} K=3: time, peak RSS",
        f"LD graph + fit {fit_s:.1f} s ({n_iter} it; with data generation {total_s:.1f} s), peak {peak / 2**30:.2f} GB; "
        f"dense X'X would be {p * p * 8 / 1e9:.0f} GB",
        "< 180 s, < 4 GB",
        ok,
    )]


def _heldout_corr(xs, ys):
    a, b = np.ravel(xs), np.ravel(ys)
    return float(np.corrcoef(a, b)[0, 1])


#: Simulated data sets on which the tuned held-out correlations are compared (the
#: timing uses the first): one data set can favour either method by chance.
SCCA_SEEDS = (1, 2, 3, 4, 5)


def scca_vs_pmd(quick: bool, repeat: int) -> list[Result]:
    from imaging_genetics.cca import SCCA
    from imaging_genetics.simulate import multitask_cca_data

    try:
        from cca_zoo.sparse import PMDCCA
    except ImportError:
        return [Result("SCCA vs cca-zoo PMDCCA", "cca-zoo not installed (pip install '.[bench]')",
                       "<= 1x time, >= corr", False)]
    n, p, q = (600, 500, 90) if not quick else (300, 200, 60)
    tr, va, te = np.split(np.arange(n), [n // 2, 3 * n // 4])
    ours_grid = (0.01, 0.03, 0.1, 0.3, 1.0)  # the same grid for both covariance models
    pmd_grid = (0.1, 0.2, 0.3, 0.5, 0.8)

    def ours(c, covariance):
        return SCCA(sparsity_x=c, sparsity_y=c, covariance=covariance, tol=1e-5, random_state=0)

    def tune_ours(X, Y, covariance, iterations):
        best = (-np.inf, None)
        for c in ours_grid:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = ours(c, covariance).fit(X[tr], [Y[tr]])
            iterations[c] = m.n_iter_
            s = m.score(X[va], [Y[va]])
            best = max(best, (s, c), key=lambda t: t[0])
        return best[1]

    def tune_pmd(X, Y):
        best = (-np.inf, None)
        for c in pmd_grid:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = PMDCCA(l1_bound=c, random_state=0).fit([X[tr], Y[tr]])
            a, b = m.transform([X[va], Y[va]])
            s = _heldout_corr(a, b)
            best = max(best, (s, c), key=lambda t: t[0])
        return best[1]

    fit_idx = np.r_[tr, va]

    def test_ours(X, Y, c, covariance):
        """Held-out correlation of the tuned setting refitted on train + validation."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = ours(c, covariance).fit(X[fit_idx], [Y[fit_idx]])
        return abs(m.score(X[te], [Y[te]]))

    def test_pmd(X, Y, c):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pmd = PMDCCA(l1_bound=c, random_state=0).fit([X[fit_idx], Y[fit_idx]])
        a, b = pmd.transform([X[te], Y[te]])
        return abs(_heldout_corr(a, b))

    models = ("diagonal", "full")
    iterations = {m: {} for m in models}
    r = {m: [] for m in (*models, "pmd")}
    t = {m: np.inf for m in (*models, "pmd")}
    for i, seed in enumerate(SCCA_SEEDS):
        X, Ys, _ = multitask_cca_data(n, p, q, correlations=(0.6,), random_state=seed)
        Y = Ys[0]
        chosen = {}
        if i == 0:
            for _ in range(repeat):  # interleaved, best of `repeat`
                for m in models:
                    secs, chosen[m] = timed(lambda: tune_ours(X, Y, m, iterations[m]))
                    t[m] = min(t[m], secs)
                secs, chosen["pmd"] = timed(lambda: tune_pmd(X, Y))
                t["pmd"] = min(t["pmd"], secs)
        else:
            chosen = {m: tune_ours(X, Y, m, {}) for m in models}
            chosen["pmd"] = tune_pmd(X, Y)
        for m in models:
            r[m].append(test_ours(X, Y, chosen[m], m))
        r["pmd"].append(test_pmd(X, Y, chosen["pmd"]))
    mean = {m: float(np.mean(v)) for m, v in r.items()}
    ratio = t["diagonal"] / t["pmd"]

    def corrs(m):
        return "/".join(f"{v:.2f}" for v in r[m])

    return [Result(
        f"SCCA(covariance='diagonal') vs cca-zoo PMDCCA (n={n} p={p} q={q}, tuned, 5-point grids)",
        f"time {t['diagonal']:.3f} s vs {t['pmd']:.3f} s = {ratio:.2f}x; test corr, mean of "
        f"{len(SCCA_SEEDS)} data sets, {mean['diagonal']:.3f} vs {mean['pmd']:.3f} "
        f"({corrs('diagonal')} vs {corrs('pmd')}); "
        f"iterations per grid point {'/'.join(str(iterations['diagonal'][c]) for c in ours_grid)}. "
        f"Default covariance='full' (spec 6): time {t['full']:.2f} s = {t['full'] / t['pmd']:.1f}x, "
        f"test corr {mean['full']:.3f} ({corrs('full')}), "
        f"iterations {'/'.join(str(iterations['full'][c]) for c in ours_grid)}",
        "<= 1x time, >= corr",
        ratio <= 1.0 and mean["diagonal"] >= mean["pmd"] - 1e-12,
    )]


def run(rate: float, quick: bool = False, full: bool = False, repeat: int = 3) -> list[Result]:
    results = []
    for fn in (lambda: mts2cca_vs_dense(quick, repeat), lambda: mts2cca_genome(quick),
               lambda: scca_vs_pmd(quick, repeat)):
        try:
            results += fn()
        except Exception as exc:  # a model that fails must not hide the other targets
            results.append(Result("CCA target", f"error: {exc!r}"[:150], "-", False))
    return results
