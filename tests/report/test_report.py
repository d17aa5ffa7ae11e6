import base64
import re

import numpy as np
import pandas as pd
import pytest

from imaging_genetics import report as rp


def _table(rng):
    rows = []
    for fold in range(5):
        for method in ("MTS2CCA", "SCCA"):
            for task in ("fMRI", "dMRI", "sMRI"):
                rows.append({"fold": fold, "method": method, "task": task,
                             "train_ccc": rng.uniform(0.5, 0.9), "test_ccc": rng.uniform(0.2, 0.7)})
    return pd.DataFrame(rows)


def _all_figures(rng):
    U = rng.normal(size=(300, 3))
    return [
        rp.ccc_bars(_table(rng)),
        rp.roc_curves({"a": (np.array([0, 0.2, 1]), np.array([0, 0.8, 1]), 0.8)}),
        rp.weight_heatmap(U, column_labels=["fMRI", "dMRI", "sMRI"]),
        rp.sensitivity_curves(pd.DataFrame({"parameter": ["beta1"] * 4, "value": [0.01, 0.1, 1, 10],
                                            "test_ccc": [0.5, 0.6, 0.4, 0.1], "task": ["t1"] * 4})),
        rp.objective_traces({"fit": np.linspace(3, 1, 20)}),
        rp.module_membership_heatmap({"snp": rng.random((50, 4)) > 0.8, "roi": rng.random((20, 4)) > 0.8}),
        rp.correlation_heatmap(rng.uniform(-1, 1, (5, 4)), list("abcde"), list("wxyz")),
        rp.manhattan(U, np.repeat([1, 2, 3], 100), np.tile(np.arange(100) * 1000, 3), highlight=np.arange(300) < 10),
        rp.region_weight_bars(rng.normal(size=(30, 2)), [f"roi{i}" for i in range(30)], top=10),
    ]


def test_figures_have_labelled_axes():
    rng = np.random.default_rng(0)
    for fig in _all_figures(rng):
        axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        assert any(ax.get_xlabel() for ax in axes), fig
        assert any(ax.get_ylabel() for ax in axes), fig


def test_report_embeds_every_figure(tmp_path):
    rng = np.random.default_rng(1)
    rep = rp.Report("Demo <study>", subtitle="simulated", figure_dir=tmp_path / "figs")
    rep.section("CCA")
    rep.text("Held-out correlations & weights.")
    rep.table(_table(rng).head(3), caption="first folds")
    figs = _all_figures(rng)
    for i, fig in enumerate(figs):
        rep.figure(fig, caption=f"figure {i}")
    path = rep.write(tmp_path / "sub" / "report.html")
    text = path.read_text()
    images = re.findall(r"src='data:image/png;base64,([^']+)'", text)
    assert len(images) == len(figs)
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(rep.figure_files) == len(figs)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in rep.figure_files)
    assert "Demo &lt;study&gt;" in text and "&amp; weights" in text
    assert "http" not in text.replace("http-equiv", "")  # self-contained: nothing fetched


def test_ccc_bars_rejects_missing_columns():
    with pytest.raises(ValueError, match="test_ccc"):
        rp.ccc_bars(pd.DataFrame({"method": ["a"], "task": ["t"], "train_ccc": [0.1]}))


def test_p_values_and_fdrs_print_in_scientific_notation():
    rep = rp.Report("t")
    frame = pd.DataFrame({"gene": ["a", "b"], "t": [4.21, 0.5], "p": [1.2e-20, 0.5], "fdr": [3.4e-5, np.nan],
                          "p_value": [0.0004, "n/a (members in fewer than two modalities)"], "delong_p": [0.01, 1.0]})
    rep.table(frame)
    cells = re.findall(r"<td>(.*?)</td>", rep.sections[0].blocks[0])
    assert cells[:6] == ["a", "4.210", "1.20e-20", "3.40e-05", "4.00e-04", "1.00e-02"]
    assert "n/a (members in fewer than two modalities)" in cells and "5.00e-01" in cells
    assert "0.000" not in cells


@pytest.mark.parametrize("name, expected", [
    ("p", True), ("p_value", True), ("P-value", True), ("fdr", True), ("q", True), ("q_value", True),
    ("padj", True), ("delong_p", True), ("fdr_bh", True), ("p_values_note", False), ("n_permutations", False),
    ("param_sparsity_x", False), ("top", False), ("rho_star", False), ("overlap", False),
])
def test_p_value_column_names(name, expected):
    assert rp.is_p_value_column(name) is expected


def test_row_numbers_are_not_shown_as_an_unnamed_column():
    rep = rp.Report("t")
    frame = pd.DataFrame({"gene": list("abcd"), "p": [0.4, 0.01, 0.2, 0.03]})
    rep.table(frame.sort_values("p").head(2))  # an integer index that is no longer 0..n-1
    header = re.findall(r"<th[^>]*>(.*?)</th>", rep.sections[0].blocks[0])
    assert header == ["gene", "p"]
    rep.table(frame.set_index("gene"))  # a named index is data: shown
    assert "<th>gene</th>" in rep.sections[0].blocks[1]


def test_checkpoint_iterations():
    # recorded at iteration 0, every 10 iterations, and at the last one
    assert rp.checkpoint_iterations(4, 30, 10).tolist() == [0, 10, 20, 30]
    assert rp.checkpoint_iterations(4, 25, 10).tolist() == [0, 10, 20, 25]
    assert rp.checkpoint_iterations(1, 0, 10).tolist() == [0]


def test_objective_panels_show_every_fit_with_its_iterations_and_value_ticks():
    traces = {"a": np.linspace(10.3, 10.2, 50), "b": (np.array([0, 10, 20, 25]), np.array([2.0, 0.2, 0.1, 0.099])),
              "c": np.linspace(1.76, 1.55, 30)}
    fig = rp.objective_traces(traces, panels=True, notes={"b": "converged at iteration 25"})
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3
    assert axes[1].lines[0].get_xdata().tolist() == [0, 10, 20, 25]
    assert axes[0].lines[0].get_xdata()[0] == 1 and "converged at iteration 25" in axes[1].get_title()
    fig.canvas.draw()
    for ax in axes:  # every value axis is labelled with numbers
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert len(labels) >= 2, ax.get_title()
    log = rp.objective_traces({"b": traces["b"]}, panels=True, log=True)
    assert log.axes[0].get_yscale() == "log"


def test_ccc_bars_draw_the_reference_correlations():
    table = _table(np.random.default_rng(2))
    fig = rp.ccc_bars(table, reference={"fMRI": 0.8, "dMRI": 0.5, "sMRI": 0.2}, reference_label="population")
    for ax in fig.axes:
        dashed = [c for c in ax.collections if c.get_label() == "population" or c.get_linestyle()[0][1]]
        levels = sorted(round(float(seg[0][1]), 3) for c in dashed for seg in c.get_segments())
        assert levels == [0.2, 0.5, 0.8]
    assert "population" in [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
