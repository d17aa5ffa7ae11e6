import numpy as np
import pytest
from typer.testing import CliRunner

from imaging_genetics.base import load_bundle
from imaging_genetics.cli import app
from imaging_genetics.io import read_plink, read_table

runner = CliRunner()


def test_simulate_nmf_writes_tables_and_truth(tmp_path):
    result = runner.invoke(app, ["simulate", "nmf", "--out", str(tmp_path), "--preset", "small",
                                 "--n-components", "4", "--random-state", "1"])
    assert result.exit_code == 0, result.output
    smri = read_table(tmp_path / "smri.csv", id_column="IID")
    assert smri.shape == (100, 650) and (smri.to_numpy() >= 0).all()
    assert read_table(tmp_path / "gene.csv", id_column="IID").shape == (100, 600)
    truth = load_bundle(tmp_path / "truth.npz")
    assert truth
    again = tmp_path / "again"
    runner.invoke(app, ["simulate", "nmf", "--out", str(again), "--n-components", "4", "--random-state", "1"])
    assert (again / "smri.csv").read_bytes() == (tmp_path / "smri.csv").read_bytes()


def test_simulate_cca_plink_round_trip(tmp_path):
    pytest.importorskip("imaging_genetics.simulate.cca")
    result = runner.invoke(app, ["simulate", "cca", "--out", str(tmp_path), "--n-samples", "60", "--n-snps", "120",
                                 "--n-rois", "12", "--format", "plink", "--random-state", "2"])
    assert result.exit_code == 0, result.output
    G = read_plink(tmp_path / "genotypes")
    assert G.shape == (60, 120)
    assert set(np.unique(G.to_numpy())) <= {0.0, 1.0, 2.0}
    for k in (1, 2, 3):
        Y = read_table(tmp_path / f"imaging{k}.csv", id_column="IID")
        assert Y.shape == (60, 12) and list(Y.index) == list(G.index)


def test_simulate_rejects_bad_options(tmp_path):
    result = runner.invoke(app, ["simulate", "nmf", "--out", str(tmp_path), "--preset", "huge"])
    assert result.exit_code != 0 and "preset" in result.output
    result = runner.invoke(app, ["simulate", "cca", "--out", str(tmp_path), "--correlations", "a,b"])
    assert result.exit_code != 0 and "correlations" in result.output
    result = runner.invoke(app, ["simulate", "cca", "--out", str(tmp_path), "--specific-blocks", "-1"])
    assert result.exit_code != 0 and "specific-blocks" in result.output


def test_simulate_cca_shared_snp_support(tmp_path):
    result = runner.invoke(app, ["simulate", "cca", "--out", str(tmp_path), "--n-samples", "40", "--n-snps", "100",
                                 "--n-rois", "20", "--specific-blocks", "0"])
    assert result.exit_code == 0, result.output
    support = load_bundle(tmp_path / "truth.npz")["support_x"]
    assert support.shape == (100, 3) and support.any() and np.all(support == support[:, [0]])


def test_simulate_cca_help_states_the_simulator_defaults():
    # the option's default and the shared-block count in its help are the simulator's
    import inspect

    import typer.main

    from imaging_genetics.simulate import multitask_cca_data

    defaults = {k: v.default for k, v in inspect.signature(multitask_cca_data).parameters.items()}
    command = typer.main.get_command(app).commands["simulate"].commands["cca"]
    option = next(p for p in command.params if p.name == "specific_blocks")
    assert option.default == defaults["n_specific_blocks"]
    assert f"besides the {defaults['n_shared_blocks']} blocks all tasks share" in option.help


def test_console_script_prints_one_line_errors(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "from imaging_genetics.cli import main; main()", "simulate", "cca",
                           "--out", str(tmp_path), "--n-snps", "5"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: ") and "Traceback" not in proc.stderr


def test_simulate_cca_plink_dosages_are_genotypes_of_the_truth(tmp_path):
    # the PLINK dosages are a monotone 0/1/2 discretisation of the X the truth describes, with
    # Hardy-Weinberg-like frequencies (no column of mostly 2s), and a CCA fitted on them finds the support
    from imaging_genetics.cca import MTS2CCA
    from imaging_genetics.inference.metrics import feature_selection_auc
    from imaging_genetics.preprocessing import GenotypeQC

    args = ["simulate", "cca", "--n-samples", "150", "--n-snps", "100", "--n-rois", "20", "--random-state", "0"]
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "p"), "--format", "plink"]).exit_code == 0
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "c")]).exit_code == 0
    G = read_plink(tmp_path / "p" / "genotypes")
    g = G.to_numpy()
    assert set(np.unique(g)) <= {0.0, 1.0, 2.0}
    freq = g.mean(axis=0) / 2
    maf = np.minimum(freq, 1 - freq)
    assert maf.min() >= 0.05 and np.median(maf) > 0.2
    assert (g == 2).mean() < 0.3
    assert GenotypeQC(min_maf=0.05, hwe_pvalue=1e-6, min_call_rate=0.9).fit_transform(G).shape == g.shape
    truth = load_bundle(tmp_path / "p" / "truth.npz")
    latent = truth["x_latent"]
    # the latent X is the one the other formats write, and each dosage is a nondecreasing function of it
    np.testing.assert_allclose(latent, read_table(tmp_path / "c" / "snp.csv", id_column="IID").to_numpy())
    for j in range(g.shape[1]):
        d = g[np.argsort(latent[:, j]), j]
        assert np.all(np.diff(d) >= 0)
        lo, hi = truth["dosage_thresholds"][j]
        x = np.sort(latent[:, j])
        np.testing.assert_array_equal(d, (x > lo).astype(int) + (x > hi).astype(int))
    corr = np.array([np.corrcoef(g[:, j], latent[:, j])[0, 1] for j in range(g.shape[1])])
    assert corr.min() > 0.65 and np.median(corr) > 0.8
    assert np.all(np.abs(corr - truth["dosage_latent_corr"]) < 0.1)
    Ys = [read_table(tmp_path / "p" / f"imaging{k}.csv", id_column="IID").to_numpy() for k in (1, 2, 3)]
    model = MTS2CCA().fit(g, Ys)
    assert feature_selection_auc(model.x_weights_, truth["support_x"]) > 0.8
    assert feature_selection_auc(model.x_weights_, truth["support_x"], per_task=True)[0] > 0.95
