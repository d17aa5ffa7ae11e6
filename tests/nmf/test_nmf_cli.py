"""``imaging-genetics nmf fit|grid|modules`` on small tables."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from imaging_genetics.cli.nmf import app

runner = CliRunner()


@pytest.fixture
def tables(tmp_path):
    rng = np.random.RandomState(0)
    W = rng.randint(1, 11, size=(24, 3)).astype(float)
    ids = [f"P{i:02d}" for i in range(24)]
    folder = tmp_path / "data"
    folder.mkdir()
    for name, p in (("mri", 10), ("snp", 14)):
        X = np.maximum(W @ rng.randint(1, 11, size=(3, p)) + rng.randn(24, p), 0)
        frame = pd.DataFrame(X, index=pd.Index(ids, name="IID"), columns=[f"{name}{j}" for j in range(p)])
        frame.iloc[::-1].to_csv(folder / f"{name}.csv")  # row order differs: aligned by ID
    return folder


def test_every_command_has_help():
    for cmd in ("fit", "grid", "modules"):
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_fit_then_modules(tables, tmp_path):
    out = tmp_path / "fit"
    result = runner.invoke(app, ["fit", str(tables), "-o", str(out), "-k", "3", "--n-restarts", "2",
                                 "--max-iter", "50", "--prior-threshold", "0.5"])
    assert result.exit_code == 0, result.output
    for name in ("W.csv", "H_mri.csv", "H_snp.csv", "modules.csv", "model.npz", "summary.json", "fit.png"):
        assert (out / name).exists(), name
    W = pd.read_csv(out / "W.csv", index_col=0)
    assert W.shape == (24, 3) and (W.to_numpy() >= 0).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["modalities"] == ["mri", "snp"] and summary["n_features"] == [10, 14]
    import imaging_genetics

    model = imaging_genetics.load(out / "model.npz")
    Xs = [pd.read_csv(tables / f"{nm}.csv", index_col=0).loc[W.index].to_numpy() for nm in ("mri", "snp")]
    expected = [np.linalg.norm(X - R) / np.linalg.norm(X) for X, R in zip(Xs, model.reconstruct())]
    np.testing.assert_allclose(summary["relative_error"], expected, rtol=1e-10)
    assert len(summary["relative_l1_error"]) == 2

    mod_out = tmp_path / "mods"
    result = runner.invoke(app, ["modules", str(tables), "-m", str(out / "model.npz"), "-o", str(mod_out),
                                 "--n-permutations", "49", "--threshold", "1.0"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(mod_out / "module_pvalues.csv")
    assert len(table) == 3
    p = table["p_value"].dropna()
    assert ((p >= 1 / 50) & (p <= 1)).all()
    assert (mod_out / "module_pvalues.png").exists() and (mod_out / "modules.json").exists()


def test_negative_input_is_reported(tables, tmp_path):
    frame = pd.read_csv(tables / "snp.csv", index_col=0)
    frame.iloc[0, :2] = -1
    frame.to_csv(tables / "snp.csv")
    result = runner.invoke(app, ["fit", str(tables), "-o", str(tmp_path / "x"), "-k", "2"])
    assert result.exit_code != 0
    assert "snp" in result.output and "2 negative" in result.output


def test_grid_with_k_curves(tables, tmp_path):
    out = tmp_path / "grid"
    result = runner.invoke(app, ["grid", str(tables), "-o", str(out), "--model", "jsnmnmf", "--values", "0.01,1",
                                 "-k", "2", "--max-iter", "20", "--k-range", "1,2", "--prior-threshold", "0.5"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "grid.csv")
    assert len(table) == 8  # 2 values ^ 3 penalties
    best = json.loads((out / "best.json").read_text())
    pool = table[table["bounded"]] if table["bounded"].any() else table
    assert best["group"] == int(pool.loc[pool["reconstruction_error"].idxmin(), "group"])
    assert len(pd.read_csv(out / "k_selection.csv")) == 2
    assert (out / "grid.png").exists() and (out / "k_selection.png").exists()


def test_fit_on_simulated_preset(tmp_path):
    out = tmp_path / "sim"
    result = runner.invoke(app, ["fit", "--simulate", "small", "-o", str(out), "--max-iter", "5",
                                 "--n-restarts", "1", "--model", "jsnmnmf"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_features"] == [650, 350, 600] and summary["modalities"] == ["mri", "snp", "gene"]
    assert 0 <= summary["planted_module_recovery_jaccard"] <= 1
    assert pd.read_csv(out / "H_snp.csv", index_col=0).shape == (10, 350)


def test_fit_and_grid_in_float32(tables, tmp_path):
    import imaging_genetics

    out = tmp_path / "fit32"
    result = runner.invoke(app, ["fit", str(tables), "-o", str(out), "-k", "3", "--n-restarts", "1",
                                 "--max-iter", "30", "--dtype", "float32"])
    assert result.exit_code == 0, result.output
    model = imaging_genetics.load(out / "model.npz")
    assert model.get_params()["dtype"] == "float32" and model.basis_.dtype == np.float32
    result = runner.invoke(app, ["grid", str(tables), "-o", str(tmp_path / "grid32"), "-k", "2", "--values", "0.1,1",
                                 "--max-iter", "10", "--dtype", "float32"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["fit", str(tables), "-o", str(out), "--dtype", "float16"])
    assert result.exit_code != 0 and "dtype" in result.output


def test_module_rules_from_the_command_line(tables, tmp_path, monkeypatch):
    import imaging_genetics
    from imaging_genetics.inference import extract_modules

    out = tmp_path / "fit"
    result = runner.invoke(app, ["fit", str(tables), "-o", str(out), "-k", "3", "--n-restarts", "1",
                                 "--max-iter", "30", "--module-rule", "topk", "--threshold", "4"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "modules.csv")
    assert (table.groupby(["module", "modality"]).size() == 4).all()  # 4 members per module and modality

    mod_out = tmp_path / "mods"
    result = runner.invoke(app, ["modules", str(tables), "-m", str(out / "model.npz"), "-o", str(mod_out),
                                 "--n-permutations", "19", "--module-rule", "mad", "--orientation", "column",
                                 "--threshold", "1.5"])
    assert result.exit_code == 0, result.output
    model = imaging_genetics.load(out / "model.npz")
    expected = extract_modules(model, threshold=1.5, method="mad", orientation="column")
    sizes = pd.read_csv(mod_out / "module_pvalues.csv")[["size_mri", "size_snp"]].to_numpy()
    assert sizes.tolist() == [[len(m[0]), len(m[1])] for m in expected]

    # a rule that cannot be applied fails before any fitting
    def no_fit(*args, **kwargs):
        raise AssertionError("fitted despite a bad module rule")

    monkeypatch.setattr(imaging_genetics.nmf.JCBSNMF, "fit", no_fit)
    result = runner.invoke(app, ["fit", str(tables), "-o", str(tmp_path / "bad"), "--module-rule", "otsu",
                                 "--threshold", "2"])
    assert result.exit_code != 0 and "otsu" in result.output


def test_fit_with_restart_stability(tables, tmp_path):
    out = tmp_path / "stab"
    result = runner.invoke(app, ["fit", str(tables), "-o", str(out), "-k", "3", "--n-restarts", "1",
                                 "--max-iter", "40", "--stability-runs", "3", "--threshold", "1.0"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "stability.csv")
    assert len(table) == 3 and table["reference"].sum() == 1
    summary = json.loads((out / "summary.json").read_text())
    expected = table.loc[~table["reference"], ["reproducibility_0", "reproducibility_1"]].mean().tolist()
    np.testing.assert_allclose(list(summary["restart_reproducibility"].values()), expected)
    result = runner.invoke(app, ["fit", str(tables), "-o", str(out), "--stability-runs", "1"])
    assert result.exit_code != 0 and "stability-runs" in result.output


# --------------------------------------------------------------------------- input tables and outputs

def _equal_width_tables(folder, names=("mri", "snp"), p=6, n=16, drop=()):
    """Two nonnegative tables of the same width (so only their names tell them apart)."""
    rng = np.random.RandomState(1)
    W = rng.rand(n, 2) + 0.1
    ids = [f"P{i:02d}" for i in range(n)]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        X = W @ (rng.rand(2, p) + 0.1) + 0.05 * rng.rand(n, p)
        frame = pd.DataFrame(X, index=pd.Index(ids, name="IID"), columns=[f"{name}{j}" for j in range(p)])
        frame = frame.drop(index=[ids[i] for i in drop]) if name == names[-1] else frame
        frame.to_csv(folder / f"{name}.csv")
        paths.append(folder / f"{name}.csv")
    return paths


_QUICK = ["-k", "2", "--n-restarts", "1", "--max-iter", "20", "--priors", "none"]


def test_modules_checks_the_tables_against_the_fit(tmp_path, caplog, console):
    mri, snp = _equal_width_tables(tmp_path / "data")
    fit_out = tmp_path / "fit"
    result = runner.invoke(app, ["fit", str(mri), str(snp), "-o", str(fit_out), *_QUICK])
    assert result.exit_code == 0, result.output
    record = json.loads((fit_out / "model.features.json").read_text())
    assert record["modalities"] == ["mri", "snp"] and record["features"][1] == [f"snp{j}" for j in range(6)]

    def modules(*tables, out):
        return runner.invoke(app, ["modules", *map(str, tables), "-m", str(fit_out / "model.npz"),
                                   "-o", str(tmp_path / out), "--n-permutations", "9", "--threshold", "1.0"])

    result = modules(mri, snp, out="ok")
    assert result.exit_code == 0, result.output
    reference = pd.read_csv(tmp_path / "ok" / "modules.csv")

    # equal widths, swapped: the counts agree, the names do not
    code, err = console("nmf", "modules", snp, mri, "-m", fit_out / "model.npz", "-o", tmp_path / "swapped")
    assert code == 2 and err.startswith("Error: ") and "Traceback" not in err
    assert "snp.csv (table 1) holds the features of modality 'snp'" in err and "fit's order" in err
    assert not (tmp_path / "swapped").exists()

    # the same columns in another order are put back in the fit's order
    frame = pd.read_csv(mri, index_col=0)
    frame[frame.columns[::-1]].to_csv(tmp_path / "data" / "mri_rev.csv")
    rev = tmp_path / "data" / "rev"
    rev.mkdir()
    frame[frame.columns[::-1]].to_csv(rev / "mri.csv")
    with caplog.at_level("WARNING"):
        result = modules(rev / "mri.csv", snp, out="reordered")
    assert result.exit_code == 0, result.output
    assert "another order" in caplog.text and "mri.csv" in caplog.text
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "reordered" / "modules.csv"), reference)

    # other features: the table is named
    other = tmp_path / "data" / "gene.csv"
    pd.read_csv(snp, index_col=0).rename(columns=lambda c: c.replace("snp", "gene")).to_csv(other)
    code, err = console("nmf", "modules", mri, other, "-m", fit_out / "model.npz", "-o", tmp_path / "other")
    assert code == 2 and "gene.csv (table 2): its columns are not the features modality 'snp'" in err

    # an older fit without the record: the count check, with a warning
    (fit_out / "model.features.json").unlink()
    caplog.clear()
    with caplog.at_level("WARNING"):
        result = modules(snp, mri, out="old")
    assert result.exit_code == 0, result.output
    assert "model.features.json not found" in caplog.text


def test_modules_names_apart_tables_with_equal_columns(tmp_path, console):
    """Features named alike in both modalities: the table names tell a swap."""
    folder = tmp_path / "data"
    a, b = _equal_width_tables(folder, names=("left", "right"))
    pd.read_csv(b, index_col=0).set_axis(pd.read_csv(a, index_col=0).columns, axis=1).to_csv(b)
    result = runner.invoke(app, ["fit", str(a), str(b), "-o", str(tmp_path / "fit"), *_QUICK])
    assert result.exit_code == 0, result.output
    code, err = console("nmf", "modules", b, a, "-m", tmp_path / "fit" / "model.npz", "-o", tmp_path / "m")
    assert code == 2 and "right.csv (table 1) is modality 'right'" in err


def test_modules_with_a_cca_model_file(tables, tmp_path, console):
    from imaging_genetics.cca import SCCA

    rng = np.random.RandomState(0)
    path = SCCA(max_iter=5).fit(rng.randn(20, 4), [rng.randn(20, 3)]).save(tmp_path / "cca.npz")
    code, err = console("nmf", "modules", tables, "-m", path, "-o", tmp_path / "m")
    assert code == 2 and "Traceback" not in err and "AttributeError" not in err
    assert "holds a model of class SCCA (a CCA model), not a joint NMF model" in err


def test_diverged_fit_is_a_usage_error(tables, tmp_path, monkeypatch, console):
    import imaging_genetics

    def diverge(self, *args, **kwargs):
        raise FloatingPointError("every restart diverged (non-finite factors): the objective is unbounded "
                                 "below for these penalties; increase sparsity (gamma2) or lower cross_strength")

    monkeypatch.setattr(imaging_genetics.nmf.JCBSNMF, "fit", diverge)
    code, err = console("nmf", "fit", tables, "-o", tmp_path / "x", "-k", "2", "--cross-strength", "1000")
    assert code == 2 and err.startswith("Error: ") and "Traceback" not in err
    assert "every restart diverged" in err and "--cross-strength" in err


def test_tables_with_the_same_file_name(tmp_path):
    """a/roi.csv and b/roi.csv (or one file twice) are two modalities with two names."""
    (a,) = _equal_width_tables(tmp_path / "a", names=("roi",))
    (b,) = _equal_width_tables(tmp_path / "b", names=("roi",), p=5)
    out = tmp_path / "fit"
    result = runner.invoke(app, ["fit", str(a), str(b), "-o", str(out), *_QUICK, "--threshold", "1.0"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out / "H_a_roi.csv", index_col=0).shape == (2, 6)
    assert pd.read_csv(out / "H_b_roi.csv", index_col=0).shape == (2, 5)
    assert not (out / "H_roi.csv").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["modalities"] == ["a_roi", "b_roi"]
    assert set(summary["reconstruction_correlation"]) == {"a_roi", "b_roi"}
    assert set(pd.read_csv(out / "modules.csv")["modality"]) <= {"a_roi", "b_roi"}

    out = tmp_path / "twice"
    result = runner.invoke(app, ["fit", str(a), str(a), "-o", str(out), *_QUICK])
    assert result.exit_code == 0, result.output
    assert (out / "H_roi_1.csv").exists() and (out / "H_roi_2.csv").exists()
    assert json.loads((out / "summary.json").read_text())["modalities"] == ["roi_1", "roi_2"]


def test_out_is_a_file_fails_before_any_work(tmp_path, monkeypatch, console):
    import imaging_genetics.cli.nmf as nmf_cli

    def no_load(*args, **kwargs):
        raise AssertionError("read the data despite a bad --out")

    monkeypatch.setattr(nmf_cli, "_load", no_load)
    afile = tmp_path / "afile"
    afile.write_text("")
    for cmd in (["fit"], ["grid"], ["modules", "-m", afile]):
        code, err = console("nmf", *cmd, tmp_path, "-o", afile)
        assert code == 2, (cmd, err)
        assert f"Invalid value for '--out' / '-o': {afile} exists and is a file, not a folder" in err
        assert "Errno" not in err
    code, err = console("nmf", "fit", tmp_path, "-o", afile / "sub")
    assert code == 2 and f"{afile} is a file, not a folder" in err


def test_grid_recommends_a_bounded_setting(tables, tmp_path, monkeypatch):
    import imaging_genetics.inference.nmf_selection as selection

    def fake_grid(Xs, *, param_grid, bounded, **kwargs):
        names = list(param_grid)
        rows = [{"group": g + 1, **{p: 0.1 * (g + 1) for p in names}, "reconstruction_error": err,
                 "relative_error": 0.1, "objective": 1.0, "n_iter": 5, "bounded": ok}
                for g, (err, ok) in enumerate(zip([3.0, 1.0, 2.0], bounded))]
        table = pd.DataFrame(rows)
        table["rank"] = table["reconstruction_error"].rank(method="min").astype(int)
        table.attrs["best"] = {p: float(table.loc[1, p]) for p in names}
        table.attrs["best_group"] = 2
        return table

    args = ["grid", str(tables), "--model", "jsnmnmf", "-k", "2", "--prior-threshold", "0.5"]
    monkeypatch.setattr(selection, "nmf_grid_search",
                        lambda Xs, **kw: fake_grid(Xs, bounded=[True, False, True], **kw))
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "g1")])
    assert result.exit_code == 0, result.output
    best = json.loads((tmp_path / "g1" / "best.json").read_text())
    assert best["group"] == 3 and best["bounded"] is True  # group 2 is lower but unbounded
    assert best["cross_strength"] == pytest.approx(0.3) and "group 2" in best["note"]

    monkeypatch.setattr(selection, "nmf_grid_search",
                        lambda Xs, **kw: fake_grid(Xs, bounded=[False, False, False], **kw))
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "g2")])
    assert result.exit_code == 0, result.output
    best = json.loads((tmp_path / "g2" / "best.json").read_text())
    assert best["group"] == 2 and best["bounded"] is False and "no setting" in best["note"]
    assert "warning: no setting" in result.output


def test_dropped_samples_are_logged_like_the_other_commands(tables, tmp_path, caplog):
    mri = pd.read_csv(tables / "mri.csv", index_col=0)
    mri.iloc[3:].to_csv(tables / "mri.csv")  # 3 IDs missing from the MRI table
    with caplog.at_level("WARNING"):
        result = runner.invoke(app, ["fit", str(tables / "mri.csv"), str(tables / "snp.csv"),
                                     "-o", str(tmp_path / "fit"), *_QUICK])
    assert result.exit_code == 0, result.output
    # the SNP table loses the 3 rows; the MRI table keeps all of its rows
    assert (f"keeping the 21 samples present in every table; dropped 3 of the 24 in {tables / 'snp.csv'} "
            in caplog.text)
    assert str(tables / "mri.csv") not in caplog.text
