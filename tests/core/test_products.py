"""The skinny-product helpers agree with the plain products for every shape."""

import numpy as np
import pytest
import scipy.sparse as sp

from imaging_genetics._products import NARROW, dot, tdot


@pytest.mark.parametrize("r", [None, 1, 2, 3, NARROW, NARROW + 1])
def test_dot_and_tdot_match_plain_products(r):
    rng = np.random.default_rng(r or 0)
    Z = rng.standard_normal((37, 211))
    W = rng.standard_normal(211 if r is None else (211, r))
    V = rng.standard_normal(37 if r is None else (37, r))
    zw, ztv = dot(Z, W), tdot(Z, V)
    assert zw.shape == (Z @ W).shape and ztv.shape == (Z.T @ V).shape
    assert zw.flags.c_contiguous and ztv.flags.c_contiguous
    np.testing.assert_allclose(zw, Z @ W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ztv, Z.T @ V, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("narrow", [0, 256])
def test_tdot_writes_into_a_row_block_of_a_larger_array(narrow):
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((20, 90))
    V = rng.standard_normal((20, 6))
    out = np.full((90, 6), np.nan)
    cols = slice(30, 75)
    res = tdot(Z[:, cols], V, out=out[cols], narrow=narrow)
    assert np.shares_memory(res, out)
    np.testing.assert_allclose(out[cols], Z[:, cols].T @ V, rtol=1e-12, atol=1e-12)
    assert np.isnan(out[:30]).all() and np.isnan(out[75:]).all()


def test_sparse_operands_use_the_plain_product():
    Z = sp.random(30, 50, density=0.2, random_state=0, format="csr")
    W = np.random.default_rng(2).standard_normal((50, 3))
    V = np.random.default_rng(3).standard_normal((30, 3))
    np.testing.assert_allclose(np.asarray(dot(Z, W)), Z @ W)
    np.testing.assert_allclose(np.asarray(tdot(Z, V)), Z.T @ V)


@pytest.mark.parametrize("r", [None, 1, 3, 30])
def test_blocked_products_are_the_same_for_any_thread_count(r):
    """Fixed column blocks: the numbers never depend on how many threads ran them,
    and they agree with the one-call products."""
    from imaging_genetics._products import BlockedProducts

    rng = np.random.default_rng(7)
    Z = rng.standard_normal((41, 1003))
    W = rng.standard_normal(1003 if r is None else (1003, r))
    V = rng.standard_normal(41 if r is None else (41, r))
    results = []
    for n_threads in (1, 2, 3, 16):
        prod = BlockedProducts(n_threads)
        try:
            out = np.full((1003,) + V.shape[1:], np.nan)
            results.append((prod.dot(Z, W), prod.tdot(Z, V), prod.tdot(Z, V, out=out)))
            assert results[-1][2] is out
        finally:
            prod.close()
    for res in results[1:]:
        for a, b in zip(results[0], res):
            np.testing.assert_array_equal(a, b)
    zw, ztv, _ = results[0]
    assert zw.shape == (Z @ W).shape and ztv.shape == (Z.T @ V).shape and zw.flags.c_contiguous
    np.testing.assert_allclose(zw, Z @ W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ztv, Z.T @ V, rtol=1e-12, atol=1e-12)


def test_finish_shared_runs_every_task_once_and_keeps_their_order():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from imaging_genetics._products import finish_shared

    main = threading.get_ident()
    with ThreadPoolExecutor(1) as pool:
        # the only worker is held busy: every task must be taken over by this thread
        release = threading.Event()
        pool.submit(release.wait)
        calls = []
        tasks = [lambda i=i: calls.append((i, threading.get_ident())) or i * i for i in range(5)]
        futures = [pool.submit(t) for t in tasks]
        out = finish_shared(tasks, futures)
        release.set()
        assert out == [0, 1, 4, 9, 16]
        assert sorted(i for i, _ in calls) == list(range(5))
        assert all(ident == main for _, ident in calls)
        assert [i for i, _ in calls] == [4, 3, 2, 1, 0]  # taken over from the last

        # a free worker: each task still runs once and the results keep the task order
        calls.clear()
        futures = [pool.submit(t) for t in tasks]
        assert finish_shared(tasks, futures) == [0, 1, 4, 9, 16]
        assert sorted(i for i, _ in calls) == list(range(5))
