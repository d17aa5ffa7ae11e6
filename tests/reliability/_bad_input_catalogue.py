"""Every bad input tried at the package's boundaries, with the error it must give.

Each case builds its input under a scratch folder, calls one public entry point and
must raise the listed exception class with a message matching ``pattern`` (which
names the argument, file or column). ``test_bad_input_catalogue.py`` runs them all;
run this file to print the table of inputs and the exact messages::

    python tests/reliability/_bad_input_catalogue.py
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import cca_data, nmf_data, write_study  # noqa: E402


@dataclass
class Case:
    boundary: str
    bad_input: str
    run: Callable[[Path], object]
    error: type
    pattern: str


class CLIFailure(Exception):
    """A console run that ended with a non-zero exit status; the message is its stderr."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text.strip())
        self.code = code


def run_cli(*args: str) -> None:
    """Run the console entry point in-process; raise CLIFailure unless it exits 0."""
    from imaging_genetics.cli import main

    err, out = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["imaging-genetics", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    if code != 0:
        raise CLIFailure(code, err.getvalue())


# --------------------------------------------------------------------------- helpers
def _csv(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _plink(tmp: Path, n: int = 7, p: int = 9) -> Path:
    from imaging_genetics.io import write_plink

    rng = np.random.default_rng(0)
    G = pd.DataFrame(rng.integers(0, 3, (n, p)).astype(float), index=[f"s{i}" for i in range(n)],
                     columns=[f"rs{j}" for j in range(p)])
    write_plink(tmp / "g", G)
    return tmp / "g"


def _edit(path: Path, fn) -> Path:
    path.write_bytes(fn(path.read_bytes()))
    return path


def _study(tmp: Path, fn=None, text: str | None = None) -> Path:
    import yaml

    path = write_study(tmp)
    if text is not None:
        path.write_text(text)
    elif fn is not None:
        spec = yaml.safe_load(path.read_text())
        fn(spec)
        path.write_text(yaml.safe_dump(spec))
    return path


def _load_study(tmp, fn=None, text=None):
    from imaging_genetics.io import load_study

    return load_study(_study(tmp, fn, text))


def _cca(cls_name="MTS2CCA", X=None, Ys=None, **kw):
    from imaging_genetics import cca

    X0, Ys0 = cca_data()
    fit_kw = {k: kw.pop(k) for k in ("x_adjacency", "y_adjacency", "snp_groups") if k in kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(cca, cls_name)(max_iter=5, **kw).fit(X0 if X is None else X, Ys0 if Ys is None else Ys,
                                                          **fit_kw)


def _nmf(cls_name="JCBSNMF", Xs=None, **kw):
    from imaging_genetics import nmf

    fit_kw = {k: kw.pop(k) for k in ("cross_adjacency", "graphs") if k in kw}
    kw = {"n_components": 2, "max_iter": 5, "n_restarts": 1, "random_state": 0, **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(nmf, cls_name)(**kw).fit(nmf_data() if Xs is None else Xs, **fit_kw)


def _with(a, where, value):
    a = np.array(a, dtype=float)
    a[where] = value
    return a


def _saved(tmp: Path) -> Path:
    from imaging_genetics.cca import SCCA

    X, Ys = cca_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SCCA(max_iter=5).fit(X, Ys).save(tmp / "m.npz")


def _meta(path: Path, **changes) -> Path:
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["__metadata__"]))
    meta.update(changes)
    arrays["__metadata__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    return path


def _nmf_tables(tmp: Path, negative: bool = False, missing: bool = False) -> Path:
    folder = tmp / "tables"
    folder.mkdir()
    Xs = nmf_data(n=12)
    for name, X in zip(("mri", "snp"), Xs):
        frame = pd.DataFrame(X, index=pd.Index([f"P{i}" for i in range(12)], name="IID"),
                             columns=[f"{name}{j}" for j in range(X.shape[1])])
        if negative and name == "snp":
            frame.iloc[0, :2] = -1.0
        if missing and name == "mri":
            frame.iloc[3, 2] = np.nan
        frame.to_csv(folder / f"{name}.csv")
    return folder


def _read_table(path, **kw):
    from imaging_genetics.io import read_table

    return read_table(path, **kw)


def _read_plink(prefix):
    from imaging_genetics.io import read_plink

    return read_plink(prefix)


def _load(path):
    import imaging_genetics

    return imaging_genetics.load(path)


def _lines(path: Path, fn) -> Path:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(fn(lines)))
    return path


# --------------------------------------------------------------------------- cases
def _cases() -> list[Case]:
    from imaging_genetics.base import IncompatibleModelFileError

    X, Ys = cca_data()
    Xs = nmf_data()
    V = ValueError
    T = TypeError
    F = FileNotFoundError
    C = CLIFailure
    c: list[Case] = []
    add = lambda *a: c.append(Case(*a))  # noqa: E731

    # ---- io.read_table
    add("io.read_table", "missing file", lambda t: _read_table(t / "nope.csv"), F, r"nope\.csv: file not found")
    add("io.read_table", "empty file", lambda t: _read_table(_csv(t, "e.csv", "")), V, r"e\.csv: file is empty")
    add("io.read_table", "header but no rows (numeric)",
        lambda t: _read_table(_csv(t, "h.csv", "id,a,b\n"), numeric=True), V, r"h\.csv: has a header but no data rows")
    add("io.read_table", "binary garbage named .csv",
        lambda t: _read_table(_edit(_csv(t, "b.csv", ""), lambda _: bytes(range(256)) * 4)), V,
        r"b\.csv: not a readable UTF-8 text table")
    add("io.read_table", "corrupt .csv.gz",
        lambda t: _read_table(_edit(_csv(t, "z.csv.gz", ""), lambda _: b"garbage")), V,
        r"z\.csv\.gz: not a readable gzipped text table")
    add("io.read_table", "corrupt .parquet",
        lambda t: _read_table(_edit(_csv(t, "x.parquet", ""), lambda _: b"garbage")), V, r"x\.parquet")
    add("io.read_table", "unknown extension", lambda t: _read_table(_csv(t, "x.xlsx", "a\n1\n")), V,
        r"x\.xlsx: unknown table format '\.xlsx'")
    add("io.read_table", "duplicated sample IDs", lambda t: _read_table(_csv(t, "d.csv", "id,a\n1,2\n1,3\n")), V,
        r"d\.csv: 1 duplicated ID\(s\) in column 'id', e\.g\. \['1'\]")
    add("io.read_table", "row without an ID", lambda t: _read_table(_csv(t, "m.csv", "id,a\n1,2\n,3\n")), V,
        r"m\.csv: 1 row\(s\) without an ID in column 'id' \(e\.g\. line\(s\) \[3\]\)")
    add("io.read_table", "duplicated column names", lambda t: _read_table(_csv(t, "c.csv", "id,a,a\n1,2,3\n")), V,
        r"c\.csv: duplicated column name\(s\) \['a'\]")
    add("io.read_table", "text in a numeric column",
        lambda t: _read_table(_csv(t, "s.csv", "id,a,b\n1,2,x\n2,3,4\n"), numeric=True), V,
        r"s\.csv: 1 non-numeric column\(s\) \['b'\]")
    add("io.read_table", "ragged rows", lambda t: _read_table(_csv(t, "r.csv", "id,a,b\n1,2\n3,4,5,6\n")), V,
        r"r\.csv: could not parse with delimiter ','")
    add("io.read_table", "unknown id_column",
        lambda t: _read_table(_csv(t, "i.csv", "id,a\n1,2\n"), id_column="subject"), V, r"i\.csv: no ID column 'subject'")
    add("io.read_table", "unknown requested column",
        lambda t: _read_table(_csv(t, "k.csv", "id,a\n1,2\n"), columns=["zz"]), V, r"k\.csv: column\(s\) \['zz'\] not found")

    # ---- io.read_plink / write_plink
    add("io.read_plink", ".bim missing", lambda t: (_plink(t), (t / "g.bim").unlink(), _read_plink(t / "g")), F,
        r"g\.bim: variant \(\.bim\) file not found")
    add("io.read_plink", "wrong magic bytes",
        lambda t: (_edit(_plink(t).with_suffix(".bed"), lambda b: b"\x00\x00\x00" + b[3:]), _read_plink(t / "g")), V,
        r"g\.bed: not a PLINK 1 \.bed file \(first bytes 00 00 00")
    add("io.read_plink", "individual-major .bed",
        lambda t: (_edit(_plink(t).with_suffix(".bed"), lambda b: b"\x6c\x1b\x00" + b[3:]), _read_plink(t / "g")), V,
        r"g\.bed: individual-major mode")
    add("io.read_plink", "truncated .bed",
        lambda t: (_edit(_plink(t).with_suffix(".bed"), lambda b: b[:-3]), _read_plink(t / "g")), V,
        r"g\.bed: file is 18 bytes but g\.fam lists 7 samples and g\.bim lists 9 SNPs.*truncated")
    add("io.read_plink", ".bed of 2 bytes",
        lambda t: (_edit(_plink(t).with_suffix(".bed"), lambda b: b[:2]), _read_plink(t / "g")), V,
        r"g\.bed: truncated header")
    add("io.read_plink", ".bim with one line too many",
        lambda t: (_lines(_plink(t).with_suffix(".bim"), lambda ls: ls + [ls[-1].replace("rs8", "rs9")]),
                   _read_plink(t / "g")), V, r"g\.bed: .*g\.bim lists 10 SNPs.*truncated")
    add("io.read_plink", ".fam with one line too few (same .bed size)",
        lambda t: (_lines(_plink(t).with_suffix(".fam"), lambda ls: ls[:-1]), _read_plink(t / "g")), V,
        r"g\.bed: the padding bits after the last of the 6 samples listed in g\.fam are set")
    add("io.read_plink", ".fam with 4 lines too few",
        lambda t: (_lines(_plink(t).with_suffix(".fam"), lambda ls: ls[:3]), _read_plink(t / "g")), V,
        r"g\.bed: file is 21 bytes but g\.fam lists 3 samples.*longer than expected")
    add("io.read_plink", "duplicated IID in .fam",
        lambda t: (_lines(_plink(t).with_suffix(".fam"), lambda ls: ls[:-1] + [ls[0]]), _read_plink(t / "g")), V,
        r"g\.fam: 1 duplicated sample IID\(s\), e\.g\. \['s0'\]")
    add("io.read_plink", "binary garbage .bim",
        lambda t: (_edit(_plink(t).with_suffix(".bim"), lambda _: bytes(range(128, 256))), _read_plink(t / "g")), V,
        r"g\.bim: not a text file")
    add("io.read_plink", ".bim with 5 columns",
        lambda t: (_lines(_plink(t).with_suffix(".bim"), lambda ls: [l.rsplit("\t", 1)[0] + "\n" for l in ls]),
                   _read_plink(t / "g")), V, r"g\.bim: expected 6 whitespace-separated columns")
    add("io.read_plink", "non-integer position in .bim",
        lambda t: (_lines(_plink(t).with_suffix(".bim"), lambda ls: [ls[0].replace("\t1\t", "\tx\t", 1)] + ls[1:]),
                   _read_plink(t / "g")), V, r"g\.bim: column 'pos' is not int64")
    add("io.write_plink", "dosage 1.5",
        lambda t: __import__("imaging_genetics.io", fromlist=["x"]).write_plink(t / "w", np.array([[0, 1.5], [2, 0]])),
        V, r"genotypes: 1 value\(s\) other than 0, 1, 2 or NaN in column\(s\) \['1'\]")

    # ---- io.load_study
    add("io.load_study", "missing YAML", lambda t: __import__("imaging_genetics.io", fromlist=["x"]).load_study(
        t / "none.yaml"), F, r"none\.yaml: study file not found")
    add("io.load_study", "not YAML", lambda t: _load_study(t, text="modalities: [unclosed\n"), V,
        r"study\.yaml: not valid YAML")
    add("io.load_study", "a list at the top level", lambda t: _load_study(t, text="- a\n- b\n"), V,
        r"study\.yaml: expected a mapping with a 'modalities' key")
    add("io.load_study", "no 'modalities' key", lambda t: _load_study(t, lambda s: s.pop("modalities")), V,
        r"study\.yaml: invalid study file:\n  missing required key 'modalities'")
    add("io.load_study", "misspelled key", lambda t: _load_study(t, lambda s: s["modalities"][1].update(featurs=["a"])),
        V, r"unknown key 'featurs' in modalities\.1 \(modality 'fmri'\): remove it or check its spelling")
    add("io.load_study", "unknown kind", lambda t: _load_study(t, lambda s: s["modalities"][1].update(kind="pet")), V,
        r"modalities\.1\.kind \(modality 'fmri'\): Input should be 'genotype', 'imaging', 'expression' or 'other'")
    add("io.load_study", "both file and plink",
        lambda t: _load_study(t, lambda s: s["modalities"][1].update(plink="geno/cohort")), V,
        r"modality 'fmri': give exactly one of 'file' .* or 'plink'")
    add("io.load_study", "features is a number", lambda t: _load_study(t, lambda s: s["modalities"][1].update(features=3)),
        V, r"modalities\.1\.features \(modality 'fmri'\): Input should be a valid list")
    add("io.load_study", "data file missing",
        lambda t: _load_study(t, lambda s: s["modalities"][1].update(file="missing.csv")), F, r"missing\.csv: file not found")
    add("io.load_study", "PLINK prefix missing",
        lambda t: _load_study(t, lambda s: s["modalities"][0].update(plink="geno/other")), F,
        r"other\.bed: genotype \(\.bed\) file not found")
    add("io.load_study", "cross_adjacency names an unknown modality",
        lambda t: _load_study(t, lambda s: s["cross_adjacency"][0].update(between=["snp", "pet"])), V,
        r"cross_adjacency between \['snp', 'pet'\]: unknown modality 'pet'")
    add("io.load_study", "duplicated modality names",
        lambda t: _load_study(t, lambda s: s["modalities"][2].update(name="fmri")), V,
        r"modality names must be unique, \['fmri'\] repeated")
    add("io.load_study", "sample IDs that match nothing",
        lambda t: (_study(t), _edit(t / "expr.tsv", lambda b: b.replace(b"sub", b"S-")),
                   __import__("imaging_genetics.io", fromlist=["x"]).load_study(t / "study.yaml")), V,
        r"expr\.tsv \(gene\): none of its 12 IDs .* match the samples of .*cohort\.bed")
    add("io.load_study", "requested feature column missing",
        lambda t: _load_study(t, lambda s: s["modalities"][1].update(features=["roiA", "roiQ"])), V,
        r"fmri\.csv: column\(s\) \['roiQ'\] not found")
    add("io.load_study", "graph edge list missing",
        lambda t: _load_study(t, lambda s: s["modalities"][1].update(graph="nope.tsv")), F, r"nope\.tsv: file not found")

    # ---- CCA estimators
    add("cca.fit", "NaN in X", lambda t: _cca(X=_with(X, (3, 2), np.nan)), V,
        r"X: 1 missing \(NaN\) value\(s\) in column\(s\) 2; impute them first")
    add("cca.fit", "inf in Ys[1]", lambda t: _cca(Ys=[Ys[0], _with(Ys[1], (0, 1), np.inf)]), V,
        r"Ys\[1\]: 1 infinite value\(s\) in column\(s\) 1; replace them")
    add("cca.fit", "strings in X", lambda t: _cca(X=np.array([["a"] * 6] * 24)), V,
        r"X: could not convert to a numeric matrix")
    add("cca.fit", "object array with a string", lambda t: _cca(X=_obj_with_text(X)), V,
        r"X: could not convert to a numeric matrix")
    add("cca.fit", "DataFrame with a text column", lambda t: _cca(X=pd.DataFrame(X).assign(site="A")), V,
        r"X: columns \['site'\] are not numeric")
    add("cca.fit", "complex X", lambda t: _cca(X=X + 1j), V, r"X: Complex data not supported")
    add("cca.fit", "rows differ between X and Ys", lambda t: _cca(X=X[:-1]), V,
        r"same samples \(rows\).*X: 23, Ys\[0\]: 24")
    add("cca.fit", "no imaging modality", lambda t: _cca(Ys=[]), V, r"Ys: needs at least one imaging modality")
    add("cca.fit", "Ys is one 2-D array", lambda t: _cca(Ys=Ys[0]), T, r"Ys: expected a list of matrices.*wrap it")
    add("cca.fit", "Ys is a number", lambda t: _cca(Ys=5), T, r"Ys: expected a list of matrices, got int")
    add("cca.fit", "Ys is a dict", lambda t: _cca(Ys={"fmri": Ys[0]}), T,
        r"Ys: expected a list of matrices, got a dict; .*list\(Ys.values\(\)\)")
    add("cca.fit", "Ys is one table", lambda t: _cca(Ys=pd.DataFrame(Ys[0])), T, r"Ys: .*one matrix; wrap it in a list: \[Y\]")
    add("cca.fit", "tables with rows in another order", lambda t: _cca(
        X=pd.DataFrame(X, index=[f"s{i}" for i in range(24)]),
        Ys=[pd.DataFrame(Y, index=[f"s{i}" for i in range(24)][::-1]) for Y in Ys]), V,
        r"Ys\[0\]: its row labels differ from those of X \(the same samples in another order; row 0 is 's23', "
        r"not 's0'\).*Ys\[0\].loc\[X.index\]")
    add("cca.fit", "1-D X", lambda t: _cca(X=X[:, 0]), V, r"X: expected a 2-D matrix .*reshape\(-1, 1\)")
    add("cca.fit", "empty X (0 rows)", lambda t: _cca(X=np.empty((0, 6)), Ys=[np.empty((0, 4))] * 2), V,
        r"X: needs at least 2 samples \(rows\), got 0")
    add("cca.fit", "X with 0 columns", lambda t: _cca(X=np.empty((24, 0))), V, r"X: needs at least 1 feature")
    add("cca.fit", "every column of Ys[1] constant", lambda t: _cca("MTSCCA", Ys=[Ys[0], np.ones((24, 4))]), V,
        r"Ys\[1\]: every column is constant")
    add("cca.fit", "unequal regions for a coupled model", lambda t: _cca(Ys=[Ys[0], Ys[1][:, :3]]), V,
        r"Ys: MTS2CCA couples region j .* q = \[4, 3\]")
    add("cca.fit", "x_adjacency of wrong shape", lambda t: _cca(x_adjacency=np.zeros((5, 5))), V,
        r"x_adjacency: expected shape \(6, 6\), got \(5, 5\)")
    add("cca.fit", "y_adjacency not symmetric", lambda t: _cca(y_adjacency=np.triu(np.ones((4, 4)))), V,
        r"y_adjacency: adjacency is not symmetric .*symmetrise it")
    add("cca.fit", "negative edge weights", lambda t: _cca(x_adjacency=-np.ones((6, 6))), V,
        r"x_adjacency: 36 negative edge weight\(s\)")
    add("cca.fit", "NaN edge weight", lambda t: _cca(x_adjacency=np.full((6, 6), np.nan)), V,
        r"x_adjacency: contains NaN or infinite edge weights")
    add("cca.fit", "adjacency of strings", lambda t: _cca(x_adjacency=np.full((6, 6), "a")), V,
        r"x_adjacency: expected a numeric \(6, 6\) matrix")
    add("cca.fit", "y_adjacency list of wrong length", lambda t: _cca(y_adjacency=[np.zeros((4, 4))]), V,
        r"y_adjacency: expected 2 matrices \(one per modality\), got 1")
    add("cca.fit", "snp_groups of wrong length", lambda t: _cca("MTGSCCA", snp_groups=np.arange(4)), V,
        r"snp_groups: expected one label per SNP, shape \(6,\), got \(4,\)")
    add("cca.fit", "negative penalty", lambda t: _cca(sparsity_x=-1.0), V, r"sparsity_x must be >= 0, got -1\.0")
    add("cca.fit", "NaN penalty", lambda t: _cca(smoothness_y=float("nan")), V, r"smoothness_y must be finite")
    add("cca.fit", "penalty as text", lambda t: _cca(sparsity_y="high"), T, r"sparsity_y must be a real number, got 'high'")
    add("cca.fit", "n_components = 0", lambda t: _cca(n_components=0), V, r"n_components must be >= 1, got 0")
    add("cca.fit", "n_components = 1.5", lambda t: _cca(n_components=1.5), T, r"n_components must be an integer, got 1\.5")
    add("cca.fit", "tol = 0", lambda t: _cca(tol=0.0), V, r"tol must be > 0")
    add("cca.fit", "random_state as text", lambda t: _cca(init="random", random_state="x"), T,
        r"random_state must be None or a nonnegative int, got 'x'")
    add("cca.transform", "new X with other columns",
        lambda t: _cca("MTSCCA").transform(X[:, :5], Ys), V, r"X: has 5 features, but the model was fitted with 6")

    # ---- joint NMF estimators
    add("nmf.fit", "negative entries", lambda t: _nmf(Xs=[Xs[0] - 0.5, Xs[1]]), V,
        r"Xs\[0\]: \d+ negative entries in column\(s\) .*NonnegativeScaler")
    add("nmf.fit", "NaN entry", lambda t: _nmf(Xs=[Xs[0], _with(Xs[1], (2, 3), np.nan)]), V,
        r"Xs\[1\]: 1 missing \(NaN\) value\(s\) in column\(s\) 3")
    add("nmf.fit", "inf entry", lambda t: _nmf(Xs=[_with(Xs[0], (0, 0), np.inf), Xs[1]]), V,
        r"Xs\[0\]: 1 infinite value\(s\)")
    add("nmf.fit", "strings", lambda t: _nmf(Xs=[np.array([["a"] * 5] * 12), Xs[1]]), V,
        r"Xs\[0\]: could not convert to a numeric matrix")
    add("nmf.fit", "rows differ between modalities", lambda t: _nmf(Xs=[Xs[0][:-1], Xs[1]]), V,
        r"same samples \(rows\).*Xs\[0\]: 11, Xs\[1\]: 12")
    add("nmf.fit", "empty list", lambda t: _nmf(Xs=[]), V, r"Xs: needs at least 1 matrix")
    add("nmf.fit", "one array instead of a list", lambda t: _nmf(Xs=Xs[0]), T, r"Xs: expected a list of matrices.*wrap it")
    add("nmf.fit", "random_state a Generator", lambda t: _nmf(random_state=np.random.default_rng(0)), T,
        r"random_state must be None, an int or a numpy RandomState, got Generator")
    add("nmf.fit", "tables for other samples", lambda t: _nmf(
        Xs=[pd.DataFrame(Xs[0], index=[f"s{i}" for i in range(12)]),
            pd.DataFrame(Xs[1], index=[f"t{i}" for i in range(12)])]), V,
        r"Xs\[1\]: its row labels differ from those of Xs\[0\] \(other samples; row 0 is 't0', not 's0'\)")
    add("nmf.fit", "all entries zero", lambda t: _nmf(Xs=[np.zeros((12, 5)), np.zeros((12, 7))]), V,
        r"Xs: every entry is zero")
    add("nmf.fit", "n_components > min(n, p)", lambda t: _nmf(n_components=6), V,
        r"n_components=6 is larger than min\(n_samples, n_features\) = min\(12, 5\) of Xs\[0\]; choose n_components <= 5")
    add("nmf.fit", "n_components > p of two modalities: the narrower one is named",
        lambda t: _nmf(Xs=[Xs[1][:, :4], Xs[0][:, :2]], n_components=5), V,
        r"n_components=5 is larger than min\(n_samples, n_features\) = min\(12, 2\) of Xs\[1\]; choose n_components <= 2")
    add("nmf.fit", "n_components = 0", lambda t: _nmf(n_components=0), V, r"n_components must be >= 1, got 0")
    add("nmf.fit", "n_restarts = 0", lambda t: _nmf(n_restarts=0), V, r"n_restarts must be >= 1, got 0")
    add("nmf.fit", "negative tol", lambda t: _nmf(tol=-1.0), V, r"tol must be >= 0, got -1\.0")
    add("nmf.fit", "unknown init", lambda t: _nmf(init="svd"), V, r"init must be 'random', 'nndsvda' or 'custom'")
    add("nmf.fit", "unsupported dtype", lambda t: _nmf(dtype="float16"), V, r"dtype must be 'float64' or 'float32'")
    add("nmf.fit", "negative sparsity", lambda t: _nmf(sparsity=-0.1), V, r"sparsity must be >= 0")
    add("nmf.fit", "cross_adjacency of wrong shape", lambda t: _nmf(cross_adjacency={(0, 1): np.ones((7, 5))}), V,
        r"cross_adjacency\[\(0, 1\)\]: expected shape \(5, 7\), got \(7, 5\)")
    add("nmf.fit", "cross_adjacency key out of range", lambda t: _nmf(cross_adjacency={(0, 2): np.ones((5, 7))}), V,
        r"cross_adjacency: key \(0, 2\) does not name two different modalities among 0\.\.1")
    add("nmf.fit", "cross_adjacency is a list", lambda t: _nmf(cross_adjacency=[np.ones((5, 7))]), T,
        r"cross_adjacency must be a dict \{\(I, J\): matrix")
    add("nmf.fit", "negative cross weights", lambda t: _nmf(cross_adjacency={(0, 1): -np.ones((5, 7))}), V,
        r"cross_adjacency\[\(0, 1\)\]: 35 negative edge weight\(s\)")
    add("nmf.fit", "graphs list of wrong length", lambda t: _nmf(graphs=[np.ones((5, 5))]), V,
        r"graphs: expected 2 entries \(one per modality, or None\), got 1")
    add("nmf.fit", "graph of wrong shape", lambda t: _nmf(graphs=[np.ones((4, 4)), None]), V,
        r"graphs\[0\]: expected shape \(5, 5\), got \(4, 4\)")
    add("nmf.fit", "graph not symmetric", lambda t: _nmf(graphs=[None, np.triu(np.ones((7, 7)))]), V,
        r"graphs\[1\]: adjacency is not symmetric")
    add("nmf.fit", "graph with negative weights", lambda t: _nmf(graphs=[-np.ones((5, 5)), None]), V,
        r"graphs\[0\]: 25 negative edge weight\(s\)")
    add("nmf.fit", "graphs is a number", lambda t: _nmf(graphs=3), T,
        r"graphs: expected a list of 2 \(p_I, p_I\) adjacencies or None entries, got int")
    add("nmf.fit", "graph of strings", lambda t: _nmf(graphs=[np.full((5, 5), "a"), None]), V,
        r"graphs\[0\]: expected a numeric \(5, 5\) matrix")
    add("nmf.fit", "init='custom' without factors", lambda t: _nmf(init="custom"), V,
        r"init='custom' needs init_basis \(n, k\) and init_coefficients")

    # ---- persistence
    add("load", "missing file", lambda t: _load(t / "none.npz"), F, r"model file not found: .*none\.npz")
    add("load", "random bytes", lambda t: _load(_csv(t, "j.npz", "not a zip")), IncompatibleModelFileError,
        r"j\.npz is not a readable model file")
    add("load", "truncated file", lambda t: _load(_edit(_saved(t), lambda b: b[: len(b) // 2])),
        IncompatibleModelFileError, r"m\.npz is (not a readable model file|damaged)")
    add("load", "bytes zeroed in the middle",
        lambda t: _load(_edit(_saved(t), lambda b: b[:200] + bytes(64) + b[264:])), IncompatibleModelFileError,
        r"m\.npz is (not a readable model file|damaged)")
    add("load", "newer file format", lambda t: _load(_meta(_saved(t), format_version=99, package_version="9.0")),
        IncompatibleModelFileError, r"m\.npz uses model file format 99 \(written by imaging-genetics 9\.0\).*Upgrade")
    add("load", "format version as text", lambda t: _load(_meta(_saved(t), format_version="1")),
        IncompatibleModelFileError, r"uses model file format '1'.*damaged or was not written by imaging-genetics")
    add("load", "class from another package", lambda t: _load(_meta(_saved(t), **{"class": "os.system"})),
        IncompatibleModelFileError, r"m\.npz: refusing to load class os\.system")
    add("load", "class unknown to this version", lambda t: _load(_meta(_saved(t), **{"class": "imaging_genetics.cca.XCCA"})),
        IncompatibleModelFileError, r"class imaging_genetics\.cca\.XCCA does not exist in this version")
    add("load", "parameter unknown to this version",
        lambda t: _load(_meta(_saved(t), params={"__dict__": {"bogus": 1}})), IncompatibleModelFileError,
        r"m\.npz: its parameters do not fit SCCA of this version")
    add("load", "metadata without 'class'", lambda t: (_saved(t), _load(_drop_class(t))),
        IncompatibleModelFileError, r"m\.npz is damaged or not a model file .*KeyError")
    add("load", "a plain .npz", lambda t: _load(_npz(t)), IncompatibleModelFileError,
        r"p\.npz has no __metadata__ entry")

    # ---- command line (console entry point)
    add("cli", "nmf fit without inputs", lambda t: run_cli("nmf", "fit", "-o", t / "o"), C,
        r"^Error: Invalid value: give input tables .*\(see: .*nmf fit --help\)$")
    add("cli", "option value of the wrong type", lambda t: run_cli("nmf", "fit", _nmf_tables(t), "-o", t / "o", "-k", "x"),
        C, r"^Error: Invalid value for '--n-components' / '-k'")
    add("cli", "missing required option", lambda t: run_cli("nmf", "fit", _nmf_tables(t)), C,
        r"^Error: Missing option '--out' / '-o'")
    add("cli", "unknown command", lambda t: run_cli("nmf", "fitt"), C, r"^Error: No such command 'fitt'")
    add("cli", "negative entries in an NMF table",
        lambda t: run_cli("nmf", "fit", _nmf_tables(t, negative=True), "-o", t / "o", "-k", "2"), C,
        r"^Error: .*snp\.csv \(modality 'snp'\): 2 negative value\(s\) in column\(s\) \['snp0', 'snp1'\]; "
        r"NMF needs nonnegative data")
    add("cli", "missing value in an NMF table",
        lambda t: run_cli("nmf", "fit", _nmf_tables(t, missing=True), "-o", t / "o", "-k", "2"), C,
        r"^Error: .*mri\.csv \(modality 'mri'\): 1 missing \(NaN\) value\(s\) in column\(s\) \['mri2'\]; "
        r"impute or drop them first")
    add("cli", "nmf modules with a missing model file",
        lambda t: run_cli("nmf", "modules", _nmf_tables(t), "-m", t / "none.npz", "-o", t / "o"), C,
        r"^Error: model file not found: .*none\.npz$")
    add("cli", "nmf modules with a damaged model file",
        lambda t: run_cli("nmf", "modules", _nmf_tables(t), "-m", _edit(_saved(t), lambda b: b[:100]), "-o", t / "o"),
        C, r"^Error: .*m\.npz is (not a readable model file|damaged)")
    add("cli", "--out is an existing file",
        lambda t: run_cli("simulate", "nmf", "--out", _csv(t, "afile", "")), C, r"^Error: Invalid value for '--out' / '-o': .*afile exists and is a file, not a folder")
    add("cli", "--out below a file", lambda t: run_cli("demo", "--out", _csv(t, "afile", "") / "sub"), C,
        r"^Error: Invalid value for '--out' / '-o': cannot create the folder .*afile/sub: .*afile is a file, not a folder")
    add("cli", "run --out is an existing file", lambda t: run_cli("run", write_study(t), "--out", _csv(t, "bfile", "")),
        C, r"^Error: Invalid value for '--out' / '-o': .*bfile exists and is a file")
    add("cli", "simulate cca with too few SNPs", lambda t: run_cli("simulate", "cca", "--out", t / "o", "--n-snps", "5"),
        C, r"^Error: n_snps: 5 SNPs give \d+ LD blocks; the supports need \d+$")
    add("cli", "biology de on a missing table",
        lambda t: run_cli("biology", "de", t / "none.csv", "-g", "dx", "-o", t / "o"), C,
        r"^Error: EXPRESSION: file not found: .*none\.csv")
    add("cli", "biology pairs, tables share too few IDs",
        lambda t: run_cli("biology", "pairs", _csv(t, "a.csv", "id,x\n1,1\n2,2\n"), _csv(t, "b.csv", "id,y\n1,1\n9,2\n"),
                          "-o", t / "o"), C, r"^Error: TABLE_A and TABLE_B share 1 sample ID\(s\); need at least 3")
    add("cli", "cca fit with no data source", lambda t: run_cli("cca", "fit", "--out", t / "o"), C,
        r"^Error: Invalid value: give exactly one data source")
    add("cli", "cca fit with a missing --x table",
        lambda t: run_cli("cca", "fit", "--x", t / "none.csv", "--y", _csv(t, "y.csv", "id,a\n1,2\n"), "--out", t / "o"),
        C, r"^Error: .*none\.csv: file not found")
    add("cli", "cca fit on a non-numeric table",
        lambda t: run_cli("cca", "fit", "--x", _csv(t, "x.csv", "id,a,b\n1,x,1\n2,y,2\n3,z,3\n"),
                          "--y", _csv(t, "y.csv", "id,c\n1,1\n2,2\n3,3\n"), "--out", t / "o"), C,
        r"^Error: .*x\.csv: 1 non-numeric column\(s\) \['a'\]")
    add("cli", "cca fit on a table with an infinite value",
        lambda t: run_cli("cca", "fit", "--x", _csv(t, "x.csv", "id,a,b\n1,1,3\n2,inf,2\n3,2,1\n4,0,0\n"),
                          "--y", _csv(t, "y.csv", "id,c\n1,1\n2,2\n3,3\n4,1\n"), "--out", t / "o"), C,
        r"^Error: .*x\.csv: 1 infinite value\(s\) in column\(s\) \['a'\]; impute or drop them first")
    add("cli", "cca fit with an unknown --param",
        lambda t: run_cli("cca", "fit", "--simulate", "--n-samples", "30", "--n-snps", "60", "--n-rois", "12",
                          "--out", t / "o", "--param", "nope=1"), C, r"^Error: Invalid value: --param: .*no parameter\(s\) \['nope'\]")
    return c


def _obj_with_text(X):
    A = X.astype(object)
    A[0, 0] = "1,5"
    return A


def _drop_class(t: Path) -> Path:
    path = t / "m.npz"
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["__metadata__"]))
    meta.pop("class")
    arrays["__metadata__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    return path


def _npz(t: Path) -> Path:
    np.savez(t / "p.npz", a=np.ones(3))
    return t / "p.npz"


CASES = _cases()


def outcome(case: Case, folder: Path) -> tuple[type | None, str]:
    """Run one case in ``folder``; (exception class or None, message)."""
    try:
        case.run(folder)
    except Exception as exc:  # noqa: BLE001 - the caller checks the class
        return type(exc), str(exc)
    return None, "(no error)"


def main() -> None:
    import logging

    logging.disable(logging.WARNING)
    rows = []
    for i, case in enumerate(CASES):
        with tempfile.TemporaryDirectory() as tmp:
            cls, message = outcome(case, Path(tmp))
        message = message.replace(tmp, "<dir>")
        rows.append((case.boundary, case.bad_input, cls.__name__ if cls else "-", message))
    for boundary, bad, cls, message in rows:
        print(f"- [{boundary}] {bad} -> {cls}: {message}")


if __name__ == "__main__":
    main()
