"""``imaging-genetics run``: input errors are one line with exit status 2; a small study end to end."""

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imaging_genetics.io import write_plink
from imaging_genetics.workflows.study import run_study


def _run(args, cwd):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(["imaging-genetics", "run", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_run_without_analyses_is_an_input_error(tmp_path):
    (tmp_path / "a.csv").write_text("IID,roi1,roi2\nS1,1,2\nS2,3,5\nS3,4,4\n")
    (tmp_path / "study.yaml").write_text("modalities:\n  - {name: fmri, file: a.csv, id_column: IID, kind: imaging}\n")
    done = _run(["study.yaml", "--out", "res"], tmp_path)
    assert done.returncode == 2
    assert "no 'analyses' section" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "res" / "report.html").exists()


def test_run_missing_study_file(tmp_path):
    done = _run(["missing.yaml"], tmp_path)
    assert done.returncode == 2 and "missing.yaml" in done.stderr


# -- a small study: PLINK genotypes with SNPs that fail QC, two imaging tables, a SNP-imaging map

STUDY = """
modalities:
  - {name: snp, kind: genotype, plink: geno, graph: correlation}
  - {name: fmri, kind: imaging, file: fmri.csv, id_column: IID, graph: correlation}
  - {name: smri, kind: imaging, file: smri.csv, id_column: IID}
cross_adjacency:
  - {between: [snp, smri], edges: snp_roi.csv}
preprocessing:
  genotype_qc: {maf: 0.05, hwe_p: 1.0e-6, call_rate: 0.9}
analyses:
  cca:
    genotype: snp
    imaging: [fmri, smri]
    models: [SCCA]
    params: {max_iter: 30}
    param_grid: {sparsity_x: [0.1, 1.0]}
    outer_cv: 2
    inner_cv: 2
  nmf:
    modalities: [smri, snp]
    models: [JCBSNMF]
    n_components: 2
    n_restarts: 1
    params: {max_iter: 20}
    permutations: 0
"""


@pytest.fixture
def study(tmp_path):
    rng = np.random.default_rng(0)
    n, p, q = 40, 12, 6
    ids = [f"S{i:02d}" for i in range(n)]
    geno = rng.binomial(2, 0.4, size=(n, p)).astype(float)
    geno[:, [3, 7]] = 0.0  # monomorphic: removed by the MAF filter
    snps = [f"rs{j}" for j in range(p)]
    write_plink(tmp_path / "geno", pd.DataFrame(geno, index=ids, columns=snps))
    z = geno[:, :3].sum(axis=1)
    for name in ("fmri", "smri"):
        Y = rng.normal(size=(n, q)) + 0.5 * z[:, None]
        frame = pd.DataFrame(Y, columns=[f"{name}{j}" for j in range(q)])
        frame.insert(0, "IID", ids)
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    # the map involves kept SNPs and one that QC removes (rs3)
    pd.DataFrame({"snp": ["rs0", "rs3", "rs5", "rs11"], "roi": ["smri0", "smri1", "smri2", "smri5"]}).to_csv(
        tmp_path / "snp_roi.csv", index=False)
    path = tmp_path / "study.yaml"
    path.write_text(STUDY)
    return path


def _run_study(path, out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(path, out)


def test_run_with_qc_and_cross_adjacency_writes_valid_json(study):
    # QC drops SNPs and the cross adjacency involves the SNP modality: it is subset like the graphs;
    # results.json is valid JSON (NaN p-values are null) and names how the final CCA parameters were chosen
    out = study.parent / "out"
    _run_study(study, out)
    text = (out / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    results = json.loads(text, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    modules = results["nmf"]["modules"]
    assert modules and all(row["p_value"] is None for row in modules)
    weights = pd.read_csv(out / "cca_SCCA_snp_weights.csv", index_col=0)
    assert "rs3" not in weights.index and "rs7" not in weights.index and len(weights) == 10
    final = results["cca"]["final_params"]["SCCA"]
    assert "most often" in final["rule"] and final["n_folds"] == 2
    assert final["params"]["sparsity_x"] in (0.1, 1.0) and 1 <= final["votes"] <= 2
    cv = pd.read_csv(out / "cca_SCCA_cv.csv")
    chosen = cv.drop_duplicates("fold")["param_sparsity_x"].tolist()
    assert chosen.count(final["params"]["sparsity_x"]) == final["votes"] == max(map(chosen.count, chosen))
    html = (out / "report.html").read_text()
    assert "most often" in html
    # the sample-alignment table names each input once (no index column repeating it)
    table = html.split("Sample alignment across the input files", 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th[^>]*>(.*?)</th>", table.split("</thead>", 1)[0])
    assert header[0] == "input" and header.count("input") == 1, header


@pytest.mark.parametrize("old, new, match", [
    ("param_grid: {sparsity_x: [0.1, 1.0]}", "param_grid: {sparsty_x: [0.1, 1.0]}",
     r"analyses\.cca\.param_grid: 'sparsty_x' is not a parameter of any listed model \(SCCA\) \(did you mean "
     r"'sparsity_x'\?\); valid names: \[.*'sparsity_x'"),
    ("params: {max_iter: 30}", "params: {max_itr: 30}", r"analyses\.cca\.params: 'max_itr' .*'max_iter'"),
    ("params: {max_iter: 20}", "params: {max_iter: 20, sparsness: 1.0}", r"analyses\.nmf\.params: 'sparsness'"),
])
def test_misspelt_parameter_is_an_error_when_the_study_is_read(study, old, new, match):
    from imaging_genetics.io.study import read_study_spec

    study.write_text(STUDY.replace(old, new))
    with pytest.raises(ValueError, match=match):
        read_study_spec(study)
    with pytest.raises(ValueError, match=match):
        _run_study(study, study.parent / "out")
    assert not list((study.parent / "out").glob("*.csv"))


def test_parameter_of_some_listed_models_applies_to_those(study):
    from imaging_genetics.io.study import read_study_spec
    from imaging_genetics.workflows.study import _cca_model

    study.write_text(STUDY.replace("models: [SCCA]", "models: [SCCA, MTS2CCA]")
                     .replace("params: {max_iter: 30}", "params: {max_iter: 30, smoothness_x: 0.3}"))
    spec = read_study_spec(study).analyses.cca
    assert _cca_model("MTS2CCA", spec, 0)[0].smoothness_x == 0.3
    assert "smoothness_x" not in _cca_model("SCCA", spec, 0)[0].get_params()


@pytest.mark.parametrize("old, new, match", [
    ("params: {max_iter: 20}", "params: {max_iter: 20, sparsity: -1.0}", r"analyses\.nmf: JCBSNMF .*sparsity"),
    ("n_components: 2", "n_components: 500", r"analyses\.nmf: JCBSNMF .*n_components=500 is larger"),
    ("params: {max_iter: 30}", "params: {max_iter: 30, tol: -1.0}", r"analyses\.cca\.params: SCCA with \{'sparsity_x': 0\.1\}: tol must be"),
    ("sparsity_x: [0.1, 1.0]", "sparsity_x: [0.1, -1.0]",
     r"analyses\.cca\.param_grid: SCCA with \{'sparsity_x': -1\.0\}: .*sparsity_x"),
])
def test_bad_settings_fail_before_the_first_fit(study, old, new, match):
    study.write_text(STUDY.replace(old, new))
    out = study.parent / "out"
    with pytest.raises(ValueError, match=match):
        _run_study(study, out)
    assert not list(out.glob("cca_*")) and not (out / "results.json").exists()


def test_bad_nmf_setting_is_a_one_line_cli_error(study):
    study.write_text(STUDY.replace("n_components: 2", "n_components: 500"))
    done = _run(["study.yaml", "--out", "res", "--quiet"], study.parent)
    assert done.returncode == 2 and "n_components=500" in done.stderr and "Traceback" not in done.stderr
    assert not list((study.parent / "res").glob("cca_*"))


def test_final_params_rule():
    from types import SimpleNamespace

    from imaging_genetics.workflows.study import _final_params

    def res(best, scores):  # scores: mean inner score per grid point (sparsity_x 0.1, 1.0, 10.0)
        grid = [0.1, 1.0, 10.0]
        inner = pd.DataFrame([{"fold": o, "grid_index": g, "inner_fold": 0, "score": s, "param_sparsity_x": v}
                              for o in range(len(best)) for g, (v, s) in enumerate(zip(grid, scores))])
        return SimpleNamespace(best_params=[{"sparsity_x": b} for b in best], inner_table=inner,
                               best_index=[grid.index(b) for b in best])

    # the most frequent choice, not fold 0's
    chosen = _final_params(res([0.1, 1.0, 1.0], [0.5, 0.4, 0.3]))
    assert chosen["params"] == {"sparsity_x": 1.0} and chosen["votes"] == 2 and chosen["n_folds"] == 3
    # a tie in votes goes to the best mean inner score
    chosen = _final_params(res([0.1, 10.0], [0.2, 0.1, 0.6]))
    assert chosen["params"] == {"sparsity_x": 10.0} and chosen["mean_inner_score"] == pytest.approx(0.6)
    # one grid point: no inner table, no tie
    one = SimpleNamespace(best_params=[{"sparsity_x": 1.0}] * 2, inner_table=pd.DataFrame(), best_index=[0, 0])
    assert _final_params(one) == {"params": {"sparsity_x": 1.0}, "votes": 2, "n_folds": 2, "mean_inner_score": None}



def test_report_states_the_design_qc_counts_and_plain_paths(study):
    (study.parent / "sub").mkdir()
    study.write_text(STUDY.replace("file: fmri.csv", "file: sub/../fmri.csv"))
    out = study.parent / "out"
    _run_study(study, out)
    html = (out / "report.html").read_text()
    alignment = html.split("Sample alignment across the input files", 1)[1].split("</table>", 1)[0]
    assert ">fmri.csv<" in alignment.replace(str(study.parent) + os.sep, "") and "/../" not in alignment
    assert "10 of 12 SNPs kept, 2 removed" in html  # rs3 and rs7 are monomorphic
    assert "2 outer folds" in html and "2-fold CV chooses the parameters from the grid sparsity_x in {0.1, 1}" in html
    assert "z-score (along the rows of H_I) exceeds 2" in html
    # NaN p-values say why in the report and stay null in results.json
    modules = html.split("Co-modules, permutation p-values", 1)[1].split("</table>", 1)[0]
    assert "not tested (permutations: 0)" in modules and "NaN" not in modules
    assert all(row["p_value"] is None for row in json.loads((out / "results.json").read_text())["nmf"]["modules"])


def test_module_p_value_reasons():
    from imaging_genetics.workflows.study import _module_p_value

    rng = np.random.default_rng(0)
    Xs = [rng.random((30, 4)), rng.random((30, 5))]
    Xs[1][:, 0] = Xs[0][:, 0] + 0.01 * rng.random(30)
    p, note = _module_p_value([np.array([0, 1]), np.array([], dtype=int)], Xs, 19, 0)
    assert np.isnan(p) and note == "n/a (members in fewer than two modalities)"
    p, note = _module_p_value([np.array([0, 1]), np.array([0, 2])], Xs, 0, 0)
    assert np.isnan(p) and note == "not tested (permutations: 0)"
    p, note = _module_p_value([np.array([0, 1]), np.array([0, 2])], Xs, 19, 0)
    assert 0 < p <= 1 and note is None


def test_example_study_fits_converge(tmp_path, console):
    """examples/study.yaml on the tutorial's data: the fits on all samples (the ones whose warnings
    reach the user) converge within the file's max_iter, for every grid value."""
    import shlex
    import shutil

    from sklearn.exceptions import ConvergenceWarning

    from imaging_genetics.inference.cv import prior_fit_params
    from imaging_genetics.workflows.study import _cca_model, _cca_prior, _nmf_inputs, _nmf_model, preprocessed_study

    root = Path(__file__).resolve().parents[2]
    command = next(line for line in (root / "README.md").read_text().splitlines()
                   if line.startswith("imaging-genetics simulate cca"))
    args = shlex.split(command)[1:]
    args[args.index("--out") + 1] = str(tmp_path / args[args.index("--out") + 1])
    assert console(*args)[0] == 0
    shutil.copytree(root / "examples", tmp_path / "examples")
    spec, views, data = preprocessed_study(tmp_path / "examples" / "study.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.filterwarnings("error", message=".*has no network term")  # each model gets the graphs it uses
        cca = spec.analyses.cca
        X, Ys = data[cca.genotype], [data[n] for n in cca.imaging]
        prior = _cca_prior(views, data, cca.genotype, cca.imaging)
        for name in cca.models:
            for key, values in cca.param_grid.items():
                for value in values:
                    model, _ = _cca_model(name, cca, 0)
                    kw = prior_fit_params(model, X.to_numpy(), [Y.to_numpy() for Y in Ys], prior)
                    model.set_params(**{key: value}).fit(X, Ys, **kw)
        nmf = spec.analyses.nmf
        names, Xs, graphs, cross = _nmf_inputs(views, data, nmf)
        for name in nmf.models:
            model = _nmf_model(name, nmf, 0, 1).fit(Xs, cross_adjacency=cross or None,
                                                     graphs=graphs if any(g is not None for g in graphs) else None)
            assert model.converged_


def test_constant_features_are_named_once_in_the_log_and_the_report(study, caplog):
    from imaging_genetics.workflows.study import _preprocessing_text, preprocessed_study

    frame = pd.read_csv(study.parent / "fmri.csv")
    frame["fmri2"] = 1.5
    frame.loc[3, "fmri4"] = np.nan  # imputed: not constant, and not an all-NaN column either
    frame.to_csv(study.parent / "fmri.csv", index=False)
    # without the MAF filter the monomorphic SNPs rs3 and rs7 stay in
    study.write_text(STUDY.replace("genotype_qc: {maf: 0.05, hwe_p: 1.0e-6, call_rate: 0.9}",
                                   "genotype_qc: null\n  impute: true"))
    with caplog.at_level("WARNING"):
        spec, views, data = preprocessed_study(study)
    said = [r.getMessage() for r in caplog.records if "same value on every sample" in r.getMessage()]
    assert len(said) == 1 and "snp: rs3, rs7; fmri: fmri2." in said[0], said
    text = _preprocessing_text(spec.preprocessing, views, data)
    assert "Features with the same value on every sample" in text and "snp: rs3, rs7; fmri: fmri2." in text
    assert "smri:" not in text and "fmri4" not in text


def test_missing_values_left_by_preprocessing_fail_before_any_fit(study):
    frame = pd.read_csv(study.parent / "fmri.csv")
    frame.loc[[3, 8], "fmri4"] = np.nan
    frame.to_csv(study.parent / "fmri.csv", index=False)
    study.write_text(STUDY.replace("  genotype_qc:", "  impute: false\n  genotype_qc:"))
    _fails_before_any_fit(study, r"study\.yaml: missing values remain after preprocessing "
                                 r"\(fmri: 2 in column\(s\) fmri4\); set 'impute: true'")


def _fails_before_any_fit(study, match):
    out = study.parent / "out"
    with pytest.raises(ValueError, match=match):
        _run_study(study, out)
    assert not (out / "report.html").exists()


def test_outcomes_are_predicted_from_each_model(study):
    """A study's outcomes are predicted by cross-validated ridge regression from every CCA
    model's variates; a planted outcome is predicted, a subject without a value is left out."""
    frame = pd.read_csv(study.parent / "fmri.csv")
    rng = np.random.default_rng(3)
    signal = frame[[f"fmri{j}" for j in range(6)]].mean(axis=1).to_numpy()
    clinical = pd.DataFrame({"IID": frame["IID"], "score": signal + 0.3 * rng.standard_normal(len(frame)),
                             "noise": rng.standard_normal(len(frame))})
    clinical.loc[4, "score"] = np.nan
    clinical.to_csv(study.parent / "clinical.csv", index=False)
    study.write_text(STUDY.replace("preprocessing:", "outcomes: {file: clinical.csv, id_column: IID}\npreprocessing:")
                     .replace("models: [SCCA]", "models: [SCCA, MTSCCA]"))
    out = study.parent / "out"
    _run_study(study, out)
    pred = pd.read_csv(out / "cca_outcome_prediction.csv")
    assert list(pred.columns) == ["method", "outcome", "n_samples", "rmse", "r", "outcome_sd"]
    assert [tuple(r) for r in pred[["method", "outcome"]].itertuples(index=False)] == [
        ("SCCA", "score"), ("SCCA", "noise"), ("MTSCCA", "score"), ("MTSCCA", "noise")]
    assert pred.set_index(["method", "outcome"])["n_samples"].to_dict() == {
        ("SCCA", "score"): 39, ("SCCA", "noise"): 40, ("MTSCCA", "score"): 39, ("MTSCCA", "noise"): 40}
    score = pred[pred.outcome == "score"]
    assert (score["r"] > 0.5).all() and (score["rmse"] < score["outcome_sd"]).all()
    assert (pred[pred.outcome == "noise"]["r"].abs() < 0.5).all()
    results = json.loads((out / "results.json").read_text())
    assert [r["outcome"] for r in results["cca"]["outcome_prediction"]] == ["score", "noise", "score", "noise"]
    assert "Prediction of the outcomes" in (out / "report.html").read_text()


def test_missing_covariates_are_an_input_error_naming_column_and_sample(study):
    frame = pd.read_csv(study.parent / "fmri.csv")
    clinical = pd.DataFrame({"IID": frame["IID"], "age": np.linspace(60, 80, len(frame))})
    clinical.loc[7, "age"] = np.nan
    clinical.to_csv(study.parent / "clinical.csv", index=False)
    study.write_text(STUDY.replace("preprocessing:", "covariates: {file: clinical.csv, id_column: IID}\n"
                                                     "preprocessing:\n  residualize: true"))
    with pytest.raises(ValueError, match=r"covariates: 1 missing value\(s\) in column\(s\) age \(sample\(s\) S07\); "
                                         r"covariates are not imputed"):
        _run_study(study, study.parent / "out")


def test_an_outcome_with_too_few_values_fails_before_any_fit(study):
    frame = pd.read_csv(study.parent / "fmri.csv")
    clinical = pd.DataFrame({"IID": frame["IID"], "score": np.nan})
    clinical.loc[:2, "score"] = [1.0, 2.0, 3.0]
    clinical.to_csv(study.parent / "clinical.csv", index=False)
    study.write_text(STUDY.replace("preprocessing:", "outcomes: {file: clinical.csv, id_column: IID}\npreprocessing:"))
    _fails_before_any_fit(study, r"study\.yaml: outcomes: column 'score' has a value for 3 sample\(s\); "
                                 r"predicting it under 2-fold cross-validation needs at least 4")


def test_covariates_given_without_residualize_are_reported_as_unused(study, caplog):
    from imaging_genetics.workflows.study import _preprocessing_text, preprocessed_study

    frame = pd.read_csv(study.parent / "fmri.csv")
    pd.DataFrame({"IID": frame["IID"], "age": np.linspace(60, 80, len(frame))}).to_csv(
        study.parent / "clinical.csv", index=False)
    study.write_text(STUDY.replace("preprocessing:", "covariates: {file: clinical.csv, id_column: IID}\npreprocessing:"))
    with caplog.at_level("WARNING"):
        spec, views, data = preprocessed_study(study)
    assert any("covariates are read but not used; set 'residualize: true'" in r.getMessage() for r in caplog.records)
    assert "No covariate adjustment (covariates were given, but residualize is false)." in _preprocessing_text(
        spec.preprocessing, views, data)
