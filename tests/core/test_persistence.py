import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator

import imaging_genetics
from imaging_genetics.base import FORMAT_VERSION, IncompatibleModelFileError, PersistenceMixin


class Recorder(PersistenceMixin, BaseEstimator):
    """A minimal estimator whose fitted state covers every supported value type."""

    def __init__(self, alpha=1.0, name="x", grid=(1, 2), init=None):
        self.alpha = alpha
        self.name = name
        self.grid = grid
        self.init = init

    def fit(self, X):
        X = np.asarray(X, dtype=float)
        self.mean_ = X.mean(axis=0)
        self.parts_ = [X[:2], X[2:]]
        self.graph_ = sp.random(5, 5, density=0.3, random_state=0, format="csr")
        self.pairs_ = {(0, 1): np.eye(2), (1, 2): sp.eye(3, format="csr")}
        self.info_ = {"n": X.shape[0], "ok": True, "score": np.float64(0.5), "nan": float("nan")}
        self.table_ = pd.DataFrame({"a": [1.0, 2.0], "b": ["u", "v"]}, index=["s1", "s2"])
        self.n_iter_ = np.int64(7)
        return self


def test_round_trip_is_exact(tmp_path):
    X = np.random.default_rng(0).normal(size=(6, 3))
    model = Recorder(alpha=0.25, name="m", grid=(3, 4), init=np.arange(3.0)).fit(X)
    path = model.save(tmp_path / "model")
    assert path.suffix == ".npz"
    loaded = imaging_genetics.load(path, trusted_modules=(Recorder.__module__,))
    assert type(loaded) is Recorder
    assert loaded.alpha == 0.25 and loaded.name == "m" and loaded.grid == (3, 4)
    assert np.array_equal(loaded.init, np.arange(3.0))
    assert np.array_equal(loaded.mean_, model.mean_)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.parts_, model.parts_))
    assert (loaded.graph_ != model.graph_).nnz == 0
    assert set(loaded.pairs_) == {(0, 1), (1, 2)}
    assert (loaded.pairs_[(1, 2)] != model.pairs_[(1, 2)]).nnz == 0
    assert loaded.info_["n"] == 6 and loaded.info_["ok"] is True and np.isnan(loaded.info_["nan"])
    pd.testing.assert_frame_equal(loaded.table_, model.table_, check_dtype=False)
    assert loaded.n_iter_ == 7


def test_file_contains_no_pickle(tmp_path):
    path = Recorder().fit(np.ones((4, 2))).save(tmp_path / "m.npz")
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            header = zf.read(name)[:200]
            assert b"'descr': '|O'" not in header
    np.load(path, allow_pickle=False)["__metadata__"]  # readable without pickle


def test_newer_format_gives_clear_error(tmp_path):
    path = Recorder().fit(np.ones((4, 2))).save(tmp_path / "m.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["__metadata__"]))
    meta["format_version"] = FORMAT_VERSION + 1
    meta["package_version"] = "99.0"
    arrays["__metadata__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(IncompatibleModelFileError, match="format 2.*99.0.*Upgrade"):
        imaging_genetics.load(path, trusted_modules=(Recorder.__module__,))


def test_untrusted_class_is_refused(tmp_path):
    path = Recorder().fit(np.ones((4, 2))).save(tmp_path / "m.npz")
    with pytest.raises(IncompatibleModelFileError, match="refusing to load class"):
        imaging_genetics.load(path)


def test_not_a_model_file(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, a=np.ones(3))
    with pytest.raises(IncompatibleModelFileError, match="not written by"):
        imaging_genetics.load(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(IncompatibleModelFileError, match="not a readable"):
        imaging_genetics.load(junk)
    with pytest.raises(FileNotFoundError):
        imaging_genetics.load(tmp_path / "missing.npz")


def test_save_is_atomic_on_failure(tmp_path):
    model = Recorder().fit(np.ones((4, 2)))
    path = model.save(tmp_path / "m.npz")
    before = path.read_bytes()
    model.bad_ = object()  # cannot be saved
    with pytest.raises(TypeError, match="Recorder.save"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_bundle_round_trip(tmp_path):
    from imaging_genetics.base import load_bundle, save_bundle

    values = {"u": np.arange(6.0).reshape(3, 2), "v": [np.ones(2), np.zeros(3)], "support": np.array([True, False]),
              "graphs": [sp.eye(3, format="csr")], "n": 3}
    back = load_bundle(save_bundle(tmp_path / "truth.npz", values))
    assert np.array_equal(back["u"], values["u"]) and back["n"] == 3
    assert back["support"].dtype == bool
    assert (back["graphs"][0] != values["graphs"][0]).nnz == 0


@pytest.mark.parametrize("make", [lambda: np.random.RandomState(5), lambda: np.random.default_rng(5),
                                  lambda: np.random.Generator(np.random.Philox(5))])
def test_random_generators_round_trip_their_state(tmp_path, make):
    rs = make()
    rs.random(3) if hasattr(rs, "random") else rs.rand(3)  # an advanced stream
    model = Recorder(init=rs).fit(np.ones((4, 2)))
    loaded = imaging_genetics.load(model.save(tmp_path / "m.npz"), trusted_modules=(Recorder.__module__,))
    assert type(loaded.init) is type(rs)
    # the loaded generator continues the same stream
    draw = (lambda g: g.random(5)) if isinstance(rs, np.random.Generator) else (lambda g: g.rand(5))
    np.testing.assert_array_equal(draw(loaded.init), draw(rs))


def test_unknown_bit_generator_is_refused(tmp_path):
    path = Recorder(init=np.random.default_rng(1)).fit(np.ones((4, 2))).save(tmp_path / "m.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["__metadata__"]))
    meta["params"]["__dict__"]["init"]["__generator__"]["__dict__"]["bit_generator"] = "os.system"
    arrays["__metadata__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(IncompatibleModelFileError, match="unknown random generator 'os.system'"):
        imaging_genetics.load(path, trusted_modules=(Recorder.__module__,))


def test_write_json_is_strict_json(tmp_path):
    from imaging_genetics.base import json_safe, write_json

    value = {"p": np.nan, "q": [np.float64(np.inf), 1.5, np.int64(3)], "a": np.array([np.nan, 2.0]), 4: None,
             "flag": np.bool_(True), "na": pd.NA}
    assert json.dumps(json_safe(value), allow_nan=False) == \
        '{"p": null, "q": [null, 1.5, 3], "a": [null, 2.0], "4": null, "flag": true, "na": null}'
    path = write_json(tmp_path / "r.json", value)
    assert json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))["q"] == [None, 1.5, 3]
