import numpy as np
import pytest

from imaging_genetics._stats import centred, pearson


@pytest.mark.parametrize("scale", [1e-150, 1e-12, 1e-9, 1.0, 1e9, 1e150])
def test_pearson_does_not_depend_on_the_scale_of_the_data(scale):
    rng = np.random.RandomState(0)
    a = rng.randn(200)
    b = 0.5 * a + rng.randn(200)
    expected = np.corrcoef(a, b)[0, 1]
    assert pearson(scale * a, scale * b) == pytest.approx(expected, rel=1e-12)
    assert pearson(a, scale * b) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("value", [0.0, 1e-200, 3.7, -2.5e8, 0.1])
def test_a_constant_array_is_constant_at_any_value(value):
    rng = np.random.RandomState(1)
    a = np.full(1001, value)
    assert not centred(a)[2]
    assert pearson(a, rng.randn(1001)) == 0.0
    # the smallest real spread is still a spread
    bumped = a.copy()
    bumped[0] += max(abs(value), 1e-300) * 1e-6
    assert centred(bumped)[2]


@pytest.mark.filterwarnings("ignore:JNMF")
def test_reconstruction_correlation_does_not_depend_on_the_scale_of_the_data():
    from imaging_genetics.inference import reconstruction_correlation
    from imaging_genetics.nmf import JNMF

    rng = np.random.RandomState(0)
    Xs = [rng.rand(20, 8), rng.rand(20, 5)]
    model = JNMF(n_components=2, max_iter=50, random_state=0).fit(Xs)
    base = reconstruction_correlation(model, Xs)
    assert np.isfinite(base).all()
    for scale in (1e-9, 1e-12, 1e9):
        model.basis_ = model.basis_ * scale
        scaled = reconstruction_correlation(model, [scale * X for X in Xs])
        model.basis_ = model.basis_ / scale
        np.testing.assert_allclose(scaled, base, rtol=1e-10)
