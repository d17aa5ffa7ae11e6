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
