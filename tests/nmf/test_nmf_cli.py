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
    assert best["group"] == int(table.loc[table["reconstruction_error"].idxmin(), "group"])
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
