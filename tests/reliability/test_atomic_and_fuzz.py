"""Atomic output writers, and fuzzing of the study loader and the PLINK reader."""

from __future__ import annotations

import copy
import os
import random
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from imaging_genetics.io import load_study, read_plink, write_plink, write_table

from _data import nmf_data, write_study


def _fail_replace(monkeypatch):
    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)


def _writers(tmp_path):
    from imaging_genetics.base import save_bundle
    from imaging_genetics.inference._parallel import ResultStore
    from imaging_genetics.nmf import JNMF
    from imaging_genetics.report.html import Report

    frame = pd.DataFrame({"a": [1.0, 2.0]}, index=["x", "y"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = JNMF(n_components=1, max_iter=2).fit(nmf_data())
    report = Report("t")
    return {
        "table.csv": lambda p: write_table(frame, p),
        "table.parquet": lambda p: write_table(frame, p),
        "model.npz": lambda p: model.save(p),
        "bundle.npz": lambda p: save_bundle(p, {"a": np.ones(2)}),
        "report.html": lambda p: report.write(p),
        "store.jsonl": lambda p: ResultStore(p, "abc"),
        "geno.bed": lambda p: write_plink(p, np.array([[0.0, 1.0], [2.0, 1.0]])),
    }


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path, monkeypatch):
    writers = _writers(tmp_path)
    for name, write in writers.items():
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        path = folder / name
        write(path)
        before = {p.name: p.read_bytes() for p in folder.iterdir()}
        assert path.name in before
        with monkeypatch.context() as m:
            _fail_replace(m)
            with pytest.raises(OSError, match="disk full"):
                write(path)
        after = {p.name: p.read_bytes() for p in folder.iterdir()}
        assert after == before, name  # old content intact, no temporary files left


def test_a_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    for name, write in _writers(tmp_path).items():
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        with monkeypatch.context() as m:
            _fail_replace(m)
            with pytest.raises(OSError, match="disk full"):
                write(folder / name)
        assert [p.name for p in folder.iterdir() if p.suffix not in (".bim", ".fam")] == [], name


def test_written_files_are_readable_by_others(tmp_path):
    path = write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    old = os.umask(0o022)
    try:
        path = write_table(pd.DataFrame({"a": [1]}), tmp_path / "u.csv")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_nmf_grid_store_survives_a_partial_last_line(tmp_path):
    from imaging_genetics.inference.nmf_selection import nmf_grid_search
    from imaging_genetics.nmf import JSNMNMF

    Xs = nmf_data()
    est = JSNMNMF(n_components=2, max_iter=5, n_restarts=1, random_state=0)
    store = tmp_path / "grid.jsonl"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = nmf_grid_search(Xs, estimator=est, param_grid={"cross_strength": [0.1, 1.0], "sparsity": [1.0]},
                                store=store)
        lines = store.read_text().splitlines(keepends=True)
        store.write_text(lines[0] + lines[1][: len(lines[1]) // 2])  # killed mid-line
        again = nmf_grid_search(Xs, estimator=est, param_grid={"cross_strength": [0.1, 1.0], "sparsity": [1.0]},
                                store=store)
    pd.testing.assert_frame_equal(first, again)
    assert all(line.endswith("\n") for line in store.read_text().splitlines(keepends=True))


# --------------------------------------------------------------------------- study fuzz
WRONG = [None, 3, -1, 2.5, True, "nonexistent/x.csv", [], [1, 2], {}, {"zz": 1}, "ld"]


def _paths(obj, pre=()):
    if pre:
        yield pre
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, pre + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, pre + (i,))


def test_study_loader_fuzz(tmp_path, caplog):
    path = write_study(tmp_path)
    base = yaml.safe_load(path.read_text())
    good = load_study(path)
    where = list(_paths(base))
    rng = random.Random(0)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(60):
        spec = copy.deepcopy(base)
        key = rng.choice(where)
        parent = spec
        for k in key[:-1]:
            parent = parent[k]
        op = rng.choice(["delete", "wrong type", "unknown key", "truncate text"])
        if op == "delete":
            del parent[key[-1]]
        elif op == "wrong type":
            parent[key[-1]] = rng.choice(WRONG)
        elif op == "unknown key" and isinstance(parent, dict):
            parent["colour"] = "blue"
        text = yaml.safe_dump(spec)
        if op == "truncate text":
            text = text[: rng.randrange(len(text))]
        path.write_text(text)
        try:
            views = load_study(path)
        except (ValueError, FileNotFoundError) as exc:
            assert str(tmp_path) in str(exc) or "modalit" in str(exc), (op, key, exc)
            outcomes["error"] += 1
            continue
        # A spec that still loads must describe what it says: same samples for the
        # modalities it keeps, values equal to the unmutated load.
        outcomes["ok"] += 1
        for name in views.names:
            if name in good.names and list(views[name].columns) == list(good[name].columns):
                common = views.sample_index.intersection(good.sample_index)
                np.testing.assert_array_equal(views[name].loc[common].to_numpy(), good[name].loc[common].to_numpy())
    assert outcomes["error"] > 20 and outcomes["ok"] > 0


# --------------------------------------------------------------------------- PLINK fuzz
def _mutations(files, rng):
    bed, bim, fam = files["bed"], files["bim"].decode(), files["fam"].decode()
    bl, fl = bim.splitlines(keepends=True), fam.splitlines(keepends=True)
    i = rng.randrange(len(fl))
    return {
        "truncated .bed": {"bed": bed[: rng.randrange(len(bed))]},
        "bytes appended to .bed": {"bed": bed + bytes([rng.randrange(256)]) * rng.randint(1, 4)},
        "wrong magic bytes": {"bed": bytes([rng.randrange(256), 0x00, 0x01]) + bed[3:]},
        ".fam line deleted": {"fam": "".join(fl[:i] + fl[i + 1:]).encode()},
        ".fam line added": {"fam": (fam + fl[-1].replace("s6", "sX")).encode()},
        ".fam line duplicated": {"fam": (fam + fl[i]).encode()},
        ".bim line deleted": {"bim": "".join(bl[:-1]).encode()},
        ".bim line added": {"bim": (bim + bl[-1].replace("rs8", "rsX")).encode()},
        ".bim garbled line": {"bim": "".join(bl[:i] + ["x y\n"] + bl[i + 1:]).encode()},
        "empty .fam": {"fam": b""},
        "empty .bim": {"bim": b""},
        "binary .fam": {"fam": bytes(rng.randrange(128, 256) for _ in range(40))},
    }


def test_plink_reader_fuzz(tmp_path):
    rng = np.random.default_rng(0)
    G = pd.DataFrame(rng.integers(0, 3, (7, 9)).astype(float), index=[f"s{i}" for i in range(7)],
                     columns=[f"rs{j}" for j in range(9)])
    G.iloc[1, 2] = np.nan
    write_plink(tmp_path / "g", G)
    orig = {e: (tmp_path / f"g.{e}").read_bytes() for e in ("bed", "bim", "fam")}
    r = random.Random(0)
    seen = set()
    for _ in range(5):
        for label, change in _mutations(orig, r).items():
            for ext, data in {**orig, **change}.items():
                (tmp_path / f"g.{ext}").write_bytes(data)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    out = read_plink(tmp_path / "g")
                except (ValueError, FileNotFoundError) as exc:
                    assert "g.bed" in str(exc) or "g.bim" in str(exc) or "g.fam" in str(exc), (label, exc)
                    seen.add(label)
                    continue
            # Read without an error: it must be the right answer, or warn about the .fam.
            right = out.shape == G.shape and np.array_equal(out.to_numpy(), G.to_numpy(), equal_nan=True)
            warned = any("g.fam" in str(w.message) for w in caught)
            assert right or warned, label
            seen.add(label)
    assert len(seen) == 12
