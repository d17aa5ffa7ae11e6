import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from imaging_genetics.cli.cca import app

SIM = ["--simulate", "--n-samples", "40", "--n-snps", "80", "--n-rois", "30", "--param", "max_iter=15"]
runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _run(args):
    res = runner.invoke(app, args)
    assert res.exit_code == 0, (res.output, res.exception)
    return res


@pytest.mark.parametrize("cmd", ["fit", "cv", "permute", "stability"])
def test_help(cmd):
    res = runner.invoke(app, [cmd, "--help"])
    assert res.exit_code == 0 and "--simulate" in res.output and "--out" in res.output


def test_cv_on_simulated_data_and_resume(tmp_path):
    out = tmp_path / "cv"
    args = ["cv", *SIM, "--out", str(out), "--grid", "sparsity_x=0.1,1", "--outer", "2", "--inner", "2"]
    res = _run(args)
    assert "Y1: train" in res.output
    folds = pd.read_csv(out / "cv_folds.csv")
    assert len(folds) == 2 * 3 and {"method", "modality", "train_ccc", "test_ccc", "param_sparsity_x"} <= set(folds.columns)
    for name in ("cv_summary.csv", "cv_inner.csv", "feature_selection.csv", "ccc.png", "roc.png", "x_weights.png",
                 "cv_result.npz", "cv_tasks.jsonl"):
        assert (out / name).exists(), name
    again = _run(args + ["--resume"])
    pd.testing.assert_frame_equal(pd.read_csv(out / "cv_folds.csv").drop(columns=["fit_time_s", "peak_memory_mb", "fit_memory_mb"]),
                                  folds.drop(columns=["fit_time_s", "peak_memory_mb", "fit_memory_mb"]))
    assert again.exit_code == 0


def test_fit_permute_stability(tmp_path):
    _run(["fit", *SIM, "--out", str(tmp_path), "--model", "mtscca"])
    w = pd.read_csv(tmp_path / "x_weights.csv", index_col=0)
    assert w.shape == (80, 3)
    assert (tmp_path / "model.npz").exists() and (tmp_path / "feature_selection.csv").exists()
    res = _run(["permute", *SIM, "--out", str(tmp_path), "--n-permutations", "3", "--cv", "2", "--statistic", "insample"])
    t = pd.read_csv(tmp_path / "permutation.csv")
    assert list(t["modality"]) == ["Y1", "Y2", "Y3"] and t["p_value"].between(0.25, 1).all()
    assert "p =" in res.output
    _run(["stability", *SIM, "--out", str(tmp_path), "--n-subsamples", "2", "--top-k", "5"])
    s = pd.read_csv(tmp_path / "stability.csv")
    assert set(s["modality"]) == {"X", "Y1", "Y2", "Y3"}
    assert s[s.modality == "X"]["frequency"].sum() == pytest.approx(5.0)


def test_tables_and_study_inputs(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(30)]
    X = pd.DataFrame(rng.standard_normal((30, 12)), index=pd.Index(ids, name="subject"), columns=[f"rs{j}" for j in range(12)])
    Y = pd.DataFrame(rng.standard_normal((30, 6)), index=pd.Index(ids, name="subject"), columns=[f"roi{j}" for j in range(6)])
    X.to_csv(tmp_path / "snp.csv")
    Y.iloc[::-1].to_csv(tmp_path / "fmri.csv")  # other row order: aligned by ID
    out = tmp_path / "o1"
    _run(["fit", "--x", str(tmp_path / "snp.csv"), "--y", str(tmp_path / "fmri.csv"), "--out", str(out),
          "--model", "scca", "--param", "max_iter=10", "--format", "parquet"])
    w = pd.read_parquet(out / "y_weights_fmri.parquet")
    assert len(w) == 6
    (tmp_path / "study.yaml").write_text(
        "modalities:\n"
        "  - {name: snp, file: snp.csv, kind: genotype, id_column: subject}\n"
        "  - {name: fmri, file: fmri.csv, kind: imaging, id_column: subject}\n")
    # a study's genotypes are allele dosages, and its preprocessing section applies (as in 'run'):
    # default QC drops the monomorphic SNP, imputation fills the missing call
    G = pd.DataFrame(rng.integers(0, 3, (30, 12)).astype(float), index=X.index, columns=X.columns)
    G["rs3"] = 0.0
    G.iloc[4, 7] = np.nan
    G.to_csv(tmp_path / "snp.csv")
    out = tmp_path / "o2"
    _run(["fit", "--study", str(tmp_path / "study.yaml"), "--out", str(out), "--model", "scca", "--param", "max_iter=10"])
    assert pd.read_csv(out / "correlations.csv")["modality"].tolist() == ["fmri"]
    snps = pd.read_csv(out / "x_weights.csv").iloc[:, 0].astype(str).tolist()
    assert "rs3" not in snps and "rs7" in snps and len(snps) == 11
    # with imputation switched off the missing call is an input error naming the study, modality and SNP
    (tmp_path / "study.yaml").write_text((tmp_path / "study.yaml").read_text() + "preprocessing: {impute: false}\n")
    res = runner.invoke(app, ["fit", "--study", str(tmp_path / "study.yaml"), "--out", str(tmp_path / "o3")])
    assert res.exit_code != 0 and not (tmp_path / "o3").exists()
    said = " ".join(res.output.replace("│", " ").split())  # the message may be boxed and wrapped
    for part in ("missing values remain after preprocessing", "snp: 1 in column(s) rs7", "'impute: true'"):
        assert part in said, said


def test_errors():
    res = runner.invoke(app, ["fit", "--out", "x"])
    assert res.exit_code != 0 and "data source" in res.output
    res = runner.invoke(app, ["fit", *SIM, "--out", "x", "--param", "nope=1"])
    assert res.exit_code != 0 and "nope" in res.output


def test_registered_under_the_root_command(tmp_path):
    from imaging_genetics.cli import app as root

    res = runner.invoke(root, ["cca", "--help"])
    assert res.exit_code == 0
    for cmd in ("fit", "cv", "permute", "stability"):
        assert cmd in res.output
    res = runner.invoke(root, ["cca", "fit", *SIM, "--out", str(tmp_path), "--model", "scca"])
    assert res.exit_code == 0, (res.output, res.exception)
    c = pd.read_csv(tmp_path / "correlations.csv")
    assert len(c) == 3 and np.isfinite(c.select_dtypes("number").to_numpy()).all()


@pytest.mark.parametrize("cmd", ["fit", "cv", "permute", "stability"])
def test_bad_param_is_reported_before_any_data_is_read(tmp_path, cmd):
    # the --x table does not exist: the --param error must come first, so a typo
    # costs nothing even when loading or simulating the data would take long
    res = runner.invoke(app, [cmd, "--out", str(tmp_path / "o"), "--x", str(tmp_path / "none.csv"),
                              "--y", str(tmp_path / "none_y.csv"), "--param", "nope=1"])
    assert res.exit_code != 0
    assert "nope" in str(res.exception) + res.output
    assert "none.csv" not in str(res.exception) + res.output


# --------------------------------------------------------------------------- input tables and outputs


def _tables(folder, n=30, drop_y=0):
    """snp.csv (n samples) and an imaging table missing the last ``drop_y`` IDs."""
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(n)]
    folder.mkdir(parents=True, exist_ok=True)
    X = pd.DataFrame(rng.standard_normal((n, 8)), index=pd.Index(ids, name="subject"), columns=[f"rs{j}" for j in range(8)])
    Y = pd.DataFrame(rng.standard_normal((n, 5)), index=pd.Index(ids, name="subject"), columns=[f"roi{j}" for j in range(5)])
    X.to_csv(folder / "snp.csv")
    Y.iloc[: n - drop_y].to_csv(folder / "roi.csv")
    return folder / "snp.csv", folder / "roi.csv"


def test_imaging_tables_with_the_same_file_name(tmp_path):
    x, fmri = _tables(tmp_path / "fmri")
    _, dmri = _tables(tmp_path / "dmri")
    out = tmp_path / "o"
    _run(["fit", "--x", str(x), "--y", str(fmri), "--y", str(dmri), "--out", str(out), "--model", "scca",
          "--param", "max_iter=5"])
    assert pd.read_csv(out / "correlations.csv")["modality"].tolist() == ["fmri_roi", "dmri_roi"]
    assert (out / "y_weights_fmri_roi.csv").exists() and (out / "y_weights_dmri_roi.csv").exists()
    assert not (out / "y_weights_roi.csv").exists()
    out = tmp_path / "twice"
    _run(["fit", "--x", str(x), "--y", str(fmri), "--y", str(fmri), "--out", str(out), "--model", "scca",
          "--param", "max_iter=5"])
    assert pd.read_csv(out / "correlations.csv")["modality"].tolist() == ["roi_1", "roi_2"]


def test_dropped_samples_are_logged_and_n_is_written(tmp_path, caplog):
    x, y = _tables(tmp_path, drop_y=4)
    common = ["--x", str(x), "--y", str(y), "--model", "scca", "--param", "max_iter=5"]
    with caplog.at_level("WARNING"):
        _run(["fit", *common, "--out", str(tmp_path / "fit")])
    # y lacks 4 IDs, so 4 rows of x are left out; y keeps all of its rows
    assert f"keeping the 26 samples present in every table; dropped 4 of the 30 in {x} " in caplog.text
    assert str(y) not in caplog.text
    assert pd.read_csv(tmp_path / "fit" / "correlations.csv")["n_samples"].tolist() == [26]
    _run(["cv", *common, "--out", str(tmp_path / "cv"), "--outer", "2"])
    assert pd.read_csv(tmp_path / "cv" / "cv_summary.csv")["n_samples"].tolist() == [26]
    _run(["permute", *common, "--out", str(tmp_path / "perm"), "--n-permutations", "2", "--statistic", "insample"])
    assert pd.read_csv(tmp_path / "perm" / "permutation.csv")["n_samples"].tolist() == [26]


@pytest.mark.parametrize("cmd", ["fit", "cv", "permute", "stability"])
def test_out_is_a_file_fails_before_any_data_is_read(tmp_path, cmd, console):
    afile = tmp_path / "afile"
    afile.write_text("")
    # the tables do not exist: the --out error must come first
    code, err = console("cca", cmd, "--x", tmp_path / "none.csv", "--y", tmp_path / "none_y.csv", "--out", afile)
    assert code == 2, err
    assert err.startswith(f"Error: Invalid value for '--out' / '-o': {afile} exists and is a file, not a folder")
    assert "Errno" not in err and "none.csv" not in err


def test_predict_outcomes_from_tables_simulation_and_errors(tmp_path):
    # simulated: the first task's latent variable plus noise, predicted from the variates
    res = _run(["predict", *SIM, "--out", str(tmp_path / "s"), "--cv", "3"])
    summary = pd.read_csv(tmp_path / "s" / "prediction.csv")
    assert list(summary.columns) == ["method", "outcome", "features", "n_samples", "rmse", "r", "outcome_sd"]
    assert summary.loc[0, "outcome"] == "simulated_score" and summary.loc[0, "n_samples"] == 40
    assert "simulated_score: RMSE" in res.output
    assert len(pd.read_csv(tmp_path / "s" / "predictions.csv")) == 40
    assert len(pd.read_csv(tmp_path / "s" / "prediction_folds.csv")) == 3
    # tables: the outcome file in another order, one sample without a value, one not analysed
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(30)]
    X = pd.DataFrame(rng.standard_normal((30, 12)), index=pd.Index(ids, name="subject"))
    Y = pd.DataFrame(rng.standard_normal((30, 6)), index=pd.Index(ids, name="subject"))
    X.add_prefix("rs").to_csv(tmp_path / "snp.csv")
    Y.add_prefix("roi").to_csv(tmp_path / "fmri.csv")
    score = pd.Series(Y.to_numpy()[:, :2].sum(axis=1), index=pd.Index(ids, name="subject"), name="score")
    clinical = pd.DataFrame({"score": score, "site": "A"}).iloc[::-1]
    clinical.loc["s5", "score"] = np.nan
    clinical.loc["other"] = [1.0, "B"]
    clinical.to_csv(tmp_path / "clinical.csv")
    base = ["predict", "--x", str(tmp_path / "snp.csv"), "--y", str(tmp_path / "fmri.csv"), "--model", "scca",
            "--param", "max_iter=30", "--cv", "3", "--outcome", str(tmp_path / "clinical.csv")]
    _run(base + ["--outcome-column", "score", "--out", str(tmp_path / "t")])
    per_sample = pd.read_csv(tmp_path / "t" / "predictions.csv").set_index("sample")
    assert len(per_sample) == 29 and "s5" not in per_sample.index
    np.testing.assert_allclose(per_sample["observed"], score.drop("s5").loc[per_sample.index])
    assert pd.read_csv(tmp_path / "t" / "prediction.csv").loc[0, "n_samples"] == 29
    for extra, message in ((["--outcome-column", "age"], "--outcome-column: ['age'] not among"),
                           ([], "column(s) ['site'] are not numeric")):
        bad = runner.invoke(app, base + extra + ["--out", str(tmp_path / "bad")])
        assert bad.exit_code != 0 and message in " ".join(bad.output.replace("│", " ").split()), bad.output
