"""``imaging-genetics biology`` sub-commands write their CSV and PNG outputs."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from imaging_genetics.biology import moderated_t_test


def _load_app():
    try:
        return importlib.import_module("imaging_genetics.cli.biology").app
    except ImportError:  # the parent CLI package may be mid-change; load the file alone
        import imaging_genetics

        path = Path(imaging_genetics.__file__).parent / "cli" / "biology.py"
        spec = importlib.util.spec_from_file_location("_biology_cli", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.app


app = _load_app()
runner = CliRunner()


@pytest.fixture()
def study(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"S{i:02d}" for i in range(30)]
    expr = pd.DataFrame(rng.normal(size=(30, 60)), index=pd.Index(ids, name="IID"),
                        columns=[f"G{j}" for j in range(60)])
    expr.iloc[:10, :5] += 2.5
    diag = pd.DataFrame({"diagnosis": ["AD"] * 10 + ["MCI"] * 10 + ["HC"] * 10}, index=pd.Index(ids, name="IID"))
    expr.to_csv(tmp_path / "expr.csv")
    diag.sample(frac=1.0, random_state=1).to_csv(tmp_path / "diag.csv")  # shuffled: aligned by ID
    with_col = expr.copy()
    with_col["diagnosis"] = diag["diagnosis"]
    with_col.to_csv(tmp_path / "expr_diag.csv")
    roi = pd.DataFrame(rng.normal(size=(30, 6)), index=pd.Index(ids, name="IID"),
                       columns=[f"roi{j}" for j in range(6)])
    roi["roi1"] += expr["G3"]
    roi.to_csv(tmp_path / "roi.csv")
    return tmp_path, expr, diag


def test_help_texts():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("de", "roc", "enrich", "pairs"):
        assert cmd in res.output
        sub = runner.invoke(app, [cmd, "--help"])
        assert sub.exit_code == 0 and "--out" in sub.output


def test_de_command(study):
    tmp, expr, diag = study
    out = tmp / "de"
    res = runner.invoke(app, ["de", str(tmp / "expr.csv"), "--groups", str(tmp / "diag.csv"),
                              "--levels", "AD,HC", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "differential_expression.csv")
    ref = moderated_t_test(expr, diag["diagnosis"], levels=("AD", "HC")).set_index("gene")
    np.testing.assert_allclose(table.set_index("gene").loc[ref.index, "p"], ref["p"], rtol=1e-10)
    selected = (out / "selected_genes.txt").read_text().split()
    assert set(f"G{j}" for j in range(5)) <= set(selected)
    assert (out / "volcano.png").stat().st_size > 1000
    # labels from a column of the same table, Welch test
    res = runner.invoke(app, ["de", str(tmp / "expr_diag.csv"), "-g", "diagnosis", "--levels", "AD,HC",
                              "--method", "welch", "-o", str(tmp / "de2")])
    assert res.exit_code == 0, res.output
    assert set(table["case"]) == {"AD"} and set(table["control"]) == {"HC"}
    # three labels without --levels: a clear error
    res = runner.invoke(app, ["de", str(tmp / "expr.csv"), "-g", str(tmp / "diag.csv"), "-o", str(out)])
    assert res.exit_code == 2 and "exactly two group labels" in res.output
    # two labels without --levels: the table and the message say which is the case
    two = diag[diag["diagnosis"] != "MCI"]
    two.to_csv(tmp / "diag2.csv")
    expr.loc[two.index].to_csv(tmp / "expr2.csv")
    res = runner.invoke(app, ["de", str(tmp / "expr2.csv"), "-g", str(tmp / "diag2.csv"), "-o", str(tmp / "de3")])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp / "de3" / "differential_expression.csv")
    case, control = table.loc[0, "case"], table.loc[0, "control"]
    assert {case, control} == {"AD", "HC"}
    assert f"comparing case '{case}' with control '{control}'" in res.output


def test_roc_command(study):
    tmp, expr, diag = study
    out = tmp / "roc"
    res = runner.invoke(app, ["roc", str(tmp / "expr.csv"), "-g", str(tmp / "diag.csv"), "--positive", "AD",
                              "--negative", "HC", "--features", "G0,G1,G30", "-o", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "marker_roc.csv")
    assert list(table["feature"]) == ["G0", "G1", "G30"]
    assert table.loc[0, "auc"] > 0.8 and table.loc[0, "p"] < 0.01
    assert (out / "marker_roc.png").stat().st_size > 1000


def test_enrich_command(study, tmp_path):
    genes = [f"G{j}" for j in range(60)]
    (tmp_path / "module.txt").write_text("\n".join(genes[:8]) + "\n")
    (tmp_path / "bg.txt").write_text("\n".join(genes) + "\n")
    (tmp_path / "sets.gmt").write_text(
        "PLANTED\tx\t" + "\t".join(genes[:10]) + "\nOTHER\tx\t" + "\t".join(genes[30:45]) + "\n"
    )
    out = tmp_path / "enr"
    res = runner.invoke(app, ["enrich", str(tmp_path / "module.txt"), "--gmt", str(tmp_path / "sets.gmt"),
                              "-b", str(tmp_path / "bg.txt"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "enrichment.csv")
    assert table.loc[0, "gene_set"] == "PLANTED" and table.loc[0, "overlap"] == 8
    assert (out / "enrichment.png").stat().st_size > 1000
    (tmp_path / "bad.gmt").write_text("PLANTED x G1 G2\n")
    res = runner.invoke(app, ["enrich", str(tmp_path / "module.txt"), "--gmt", str(tmp_path / "bad.gmt"),
                              "-b", str(tmp_path / "bg.txt"), "-o", str(out)])
    assert res.exit_code == 2 and "bad.gmt:1" in res.output


def test_pairs_command(study):
    tmp, expr, diag = study
    out = tmp / "pairs"
    res = runner.invoke(app, ["pairs", str(tmp / "expr.csv"), str(tmp / "roi.csv"), "--names", "gene,roi",
                              "--top", "5", "-o", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "pairs.csv")
    assert (table.loc[0, "gene"], table.loc[0, "roi"]) == ("G3", "roi1")
    assert len(table) == 5 and (out / "pairs_heatmap.png").stat().st_size > 1000
    res = runner.invoke(app, ["pairs", str(tmp / "expr.csv"), str(tmp / "missing.csv"), "-o", str(out)])
    assert res.exit_code == 2 and "missing.csv" in res.output


def test_pairs_reports_dropped_samples_and_n(study, caplog):
    tmp, expr, diag = study
    pd.read_csv(tmp / "roi.csv", index_col=0).iloc[:-5].to_csv(tmp / "roi_part.csv")  # 5 IDs missing
    out = tmp / "pairs_part"
    with caplog.at_level("WARNING"):
        res = runner.invoke(app, ["pairs", str(tmp / "expr.csv"), str(tmp / "roi_part.csv"), "--top", "3",
                                  "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert f"keeping the 25 samples present in every table; dropped 5 of the 30 in TABLE_A {tmp / 'expr.csv'}" \
        in caplog.text
    assert "roi_part.csv" not in caplog.text  # TABLE_B keeps all of its rows
    assert pd.read_csv(out / "pairs.csv")["n_samples"].tolist() == [25, 25, 25]
    assert "on 25 samples" in res.output


@pytest.mark.parametrize("cmd", ["de", "roc", "enrich", "pairs"])
def test_out_is_a_file_fails_before_reading(study, cmd):
    tmp, expr, diag = study
    afile = tmp / "afile"
    afile.write_text("")
    missing = str(tmp / "none.csv")  # never read: the --out error comes first
    args = {"de": [missing, "-g", "diagnosis"], "roc": [missing, "-g", "diagnosis"],
            "enrich": [missing, "--gmt", missing, "-b", missing], "pairs": [missing, missing]}[cmd]
    res = runner.invoke(app, [cmd, *args, "-o", str(afile)])
    assert res.exit_code == 2
    assert f"Error: --out: {afile} exists and is a file, not a folder" in res.output
    assert "none.csv" not in res.output and "Errno" not in res.output
    res = runner.invoke(app, [cmd, *args, "-o", str(afile / "sub")])
    assert res.exit_code == 2 and f"{afile} is a file, not a folder" in res.output
