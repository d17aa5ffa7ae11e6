"""Gene-set over-representation of a module's genes, and SNP-to-gene mapping.

Gene sets come from a local GMT file the user supplies (e.g. downloaded once from
MSigDB, KEGG or GO); nothing is fetched from the network. The background is the set
of genes that were analysed (for an expression module: the genes that entered the
factorisation), not the genome.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from ._common import benjamini_hochberg

__all__ = ["read_gmt", "enrichment", "snps_to_genes"]


def read_gmt(path: str | os.PathLike, *, with_descriptions: bool = False):
    """Read gene sets from a GMT file.

    Each non-empty line is ``name<TAB>description<TAB>gene1<TAB>gene2...``. Lines
    starting with ``#`` are comments. Gene names are kept as written (stripped);
    repeated genes within a set are kept once.

    Parameters
    ----------
    path : str or path-like
        A local ``.gmt`` file.
    with_descriptions : bool
        Also return ``{name: description}``.

    Returns
    -------
    dict {set name: list of genes}
        In file order; with ``with_descriptions``, a tuple (sets, descriptions).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        A line with fewer than three tab-separated fields, an empty set name or a
        set name used twice; the message names the file and line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"gene-set file not found: {path}")
    sets: dict[str, list[str]] = {}
    desc: dict[str, str] = {}
    first_line: dict[str, int] = {}
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) < 3:
                raise ValueError(
                    f"{path}:{lineno}: expected 'name<TAB>description<TAB>gene...' "
                    f"(at least 3 tab-separated fields), got {len(fields)} field(s); "
                    "is the file tab-separated?"
                )
            name = fields[0].strip()
            if not name:
                raise ValueError(f"{path}:{lineno}: empty gene-set name in the first field")
            if name in sets:
                raise ValueError(
                    f"{path}:{lineno}: gene set {name!r} already defined on line "
                    f"{first_line[name]}; set names must be unique"
                )
            genes = list(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
            if not genes:
                raise ValueError(f"{path}:{lineno}: gene set {name!r} lists no genes")
            sets[name] = genes
            desc[name] = fields[1].strip()
            first_line[name] = lineno
    if not sets:
        raise ValueError(f"{path}: contains no gene sets")
    return (sets, desc) if with_descriptions else sets


def _gene_id(value: Any) -> str | None:
    """One identifier as text: None for a missing value (None, NaN, pd.NA, NaT);
    whole-number floats as integers' text (Entrez ID 1.0 -> "1"); others ``str``,
    stripped."""
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):  # list-like: not a scalar missing value
        pass
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _gene_list(values: Any, name: str) -> list[str]:
    """Distinct identifiers as text in input order, missing values dropped."""
    if values is None:
        raise ValueError(f"{name}: required")
    if isinstance(values, str):
        raise TypeError(f"{name}: expected a collection of gene names, got one string {values!r}")
    if isinstance(values, pd.DataFrame):
        raise TypeError(f"{name}: expected a collection of gene names, got a DataFrame; pass one column")
    out = (_gene_id(v) for v in values)
    return list(dict.fromkeys(g for g in out if g))


def enrichment(
    module_genes: Iterable[Any],
    gene_sets: Mapping[str, Iterable[Any]] | str | os.PathLike,
    background: Iterable[Any],
    *,
    min_size: int = 1,
    max_size: int | None = None,
) -> pd.DataFrame:
    """Hypergeometric over-representation of a module's genes in gene sets.

    With N background genes, K of them in the set, n module genes (all in the
    background) of which k are in the set, the p-value is P(X ≥ k) for
    X ~ Hypergeometric(N, K, n) (a one-sided Fisher exact test); p-values are
    adjusted across the tested sets by Benjamini–Hochberg.

    Parameters
    ----------
    module_genes : iterable of str
        The module's genes. Genes outside ``background`` are dropped with a warning.
    gene_sets : dict {name: genes} or path to a GMT file
        Sets are intersected with the background before testing.
    background : iterable of str
        The genes analysed (the universe).
    min_size, max_size : int
        Only sets with min_size ≤ K ≤ max_size background genes are tested.

    Identifiers of all three inputs are compared as text: missing values (None,
    NaN, ``pd.NA``) are dropped, and whole-number floats are written as integers
    (an Entrez ID read as 1.0 from a column with NaN matches ``"1"``); other values
    are ``str(value).strip()``, and repeats count once.

    Returns
    -------
    DataFrame sorted by p, one row per tested set
        ``gene_set, set_size, overlap, module_size, background_size, expected,
        fold_enrichment, p, fdr, genes`` (``set_size`` = K, ``overlap`` = k,
        ``genes`` the overlapping genes joined by ``;``).

    Raises
    ------
    ValueError
        Empty background, no module gene in the background, no set passing the
        size filter.

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995). JRSS B 57, 289–300.
    """
    if isinstance(gene_sets, (str, os.PathLike)):
        gene_sets = read_gmt(gene_sets)
    if not isinstance(gene_sets, Mapping) or not gene_sets:
        raise ValueError("gene_sets: expected a non-empty dict {name: genes} or a GMT path")
    bg = _gene_list(background, "background")
    if not bg:
        raise ValueError("background: no genes; pass the genes that were analysed")
    bg_set = set(bg)
    mod = _gene_list(module_genes, "module_genes")
    outside = [g for g in mod if g not in bg_set]
    if outside:
        warnings.warn(
            f"module_genes: {len(outside)} gene(s) not in the background were dropped "
            f"(e.g. {outside[:5]})",
            UserWarning,
            stacklevel=2,
        )
    mod = [g for g in mod if g in bg_set]
    if not mod:
        raise ValueError("module_genes: none of the module's genes is in the background")
    mod_set = set(mod)
    N, n = len(bg_set), len(mod_set)
    rows = []
    for name, genes in gene_sets.items():
        members = set(_gene_list(genes, f"gene_sets[{name!r}]")) & bg_set
        K = len(members)
        if K < min_size or (max_size is not None and K > max_size):
            continue
        hits = sorted(members & mod_set)
        k = len(hits)
        expected = n * K / N
        rows.append(
            {
                "gene_set": str(name),
                "set_size": K,
                "overlap": k,
                "module_size": n,
                "background_size": N,
                "expected": expected,
                "fold_enrichment": k / expected if expected > 0 else np.nan,
                "p": float(stats.hypergeom.sf(k - 1, N, K, n)),
                "genes": ";".join(hits),
            }
        )
    if not rows:
        raise ValueError(
            f"gene_sets: no set has between {min_size} and {max_size} genes in the background; "
            "check that gene identifiers match (symbols vs Entrez IDs)"
        )
    out = pd.DataFrame(rows)
    out["p"] = out["p"].clip(0.0, 1.0)
    out.insert(out.columns.get_loc("p") + 1, "fdr", benjamini_hochberg(out["p"].to_numpy()))
    return out.sort_values(["p", "gene_set"], kind="mergesort").reset_index(drop=True)


_SNP_COLS = ("snp", "rsid", "id", "variant", "marker")
_CHROM_COLS = ("chrom", "chr", "chromosome")
_POS_COLS = ("pos", "bp", "position")
_GENE_COLS = ("gene", "symbol", "gene_name", "name")


def _find(df: pd.DataFrame, candidates: tuple[str, ...], name: str, what: str) -> str:
    lower = {str(c).lower(): c for c in df.columns}
    for c in candidates:
        if c in lower:
            return lower[c]
    raise ValueError(
        f"{name}: no {what} column; expected one of {list(candidates)}, got {list(df.columns)[:10]}"
    )


def _norm_chrom(values: Any) -> np.ndarray:
    out = []
    for v in values:
        s = str(v).strip()
        if s.lower().startswith("chr"):
            s = s[3:]
        try:
            f = float(s)
            if f.is_integer():
                s = str(int(f))
        except ValueError:
            s = s.upper()
        out.append(s)
    return np.asarray(out, dtype=object)


def snps_to_genes(
    snps: Any,
    gene_positions: pd.DataFrame | None = None,
    *,
    window: int = 0,
    snp_gene_table: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Map SNPs to genes by position or through a user-supplied SNP–gene table.

    Parameters
    ----------
    snps : DataFrame or iterable of SNP ids
        By position: a DataFrame with a SNP id column (``snp``/``rsid``/``id``, or the
        index), a chromosome column (``chrom``/``chr``) and a base-pair position
        (``pos``/``bp``). With ``snp_gene_table``: the SNP ids (a list, or such a
        DataFrame).
    gene_positions : DataFrame, optional
        Columns ``gene`` (or ``symbol``), ``chrom``, ``start``, ``end`` (same build
        and coordinate convention as the SNPs). Chromosome names ``chr1`` and ``1``
        match.
    window : int, default 0
        Base pairs added on both sides of each gene; a SNP maps to every gene with
        start − window ≤ pos ≤ end + window.
    snp_gene_table : DataFrame, optional
        Columns ``snp`` and ``gene``: the mapping to use instead of positions (e.g.
        from an annotation program such as ANNOVAR or VEP).

    Returns
    -------
    DataFrame with columns ``snp, gene, distance``
        One row per (SNP, gene) pair, ordered by SNP input order then gene start;
        distance 0 inside the gene, else base pairs to the nearer end (NaN for the
        table mode). SNPs that map to no gene do not appear.

    Raises
    ------
    ValueError
        Neither or both of ``gene_positions`` and ``snp_gene_table``, missing columns,
        missing positions, start > end, negative window.
    """
    if (gene_positions is None) == (snp_gene_table is None):
        raise ValueError("snps_to_genes: give exactly one of gene_positions or snp_gene_table")
    if snp_gene_table is not None:
        tab = pd.DataFrame(snp_gene_table)
        sc = _find(tab, _SNP_COLS, "snp_gene_table", "SNP id")
        gc = _find(tab, _GENE_COLS, "snp_gene_table", "gene")
        if isinstance(snps, pd.DataFrame):
            ids = (
                snps[_find(snps, _SNP_COLS, "snps", "SNP id")]
                if any(str(c).lower() in _SNP_COLS for c in snps.columns)
                else snps.index
            )
        else:
            ids = snps
        ids = [str(s) for s in ids]
        order = {s: i for i, s in enumerate(dict.fromkeys(ids))}
        t = pd.DataFrame({"snp": tab[sc].astype(str).str.strip(), "gene": tab[gc].astype(str).str.strip()})
        t = t[t["snp"].isin(order)].drop_duplicates()
        t = t.assign(_o=t["snp"].map(order)).sort_values(["_o", "gene"], kind="mergesort")
        out = t.drop(columns="_o").reset_index(drop=True)
        out["distance"] = np.nan
        return out

    if window < 0:
        raise ValueError(f"window must be >= 0 base pairs, got {window}")
    if not isinstance(snps, pd.DataFrame):
        raise TypeError("snps: expected a DataFrame with SNP id, chrom and pos columns for position mapping")
    genes = pd.DataFrame(gene_positions)
    if any(str(c).lower() in _SNP_COLS for c in snps.columns):
        snp_ids = snps[_find(snps, _SNP_COLS, "snps", "SNP id")].astype(str).to_numpy()
    else:
        snp_ids = np.asarray([str(i) for i in snps.index])
    s_chrom = _norm_chrom(snps[_find(snps, _CHROM_COLS, "snps", "chromosome")])
    s_pos_raw = pd.to_numeric(snps[_find(snps, _POS_COLS, "snps", "position")], errors="coerce")
    if s_pos_raw.isna().any():
        bad = snp_ids[s_pos_raw.isna().to_numpy()][:5]
        raise ValueError(f"snps: missing or non-numeric positions for SNP(s) {list(bad)}")
    s_pos = s_pos_raw.to_numpy(dtype=np.float64)
    gname = genes[_find(genes, _GENE_COLS, "gene_positions", "gene")].astype(str).to_numpy()
    g_chrom = _norm_chrom(genes[_find(genes, _CHROM_COLS, "gene_positions", "chromosome")])
    starts = pd.to_numeric(genes[_find(genes, ("start", "txstart", "begin"), "gene_positions", "start")], errors="coerce")
    ends = pd.to_numeric(genes[_find(genes, ("end", "txend", "stop"), "gene_positions", "end")], errors="coerce")
    if starts.isna().any() or ends.isna().any():
        bad = gname[(starts.isna() | ends.isna()).to_numpy()][:5]
        raise ValueError(f"gene_positions: missing or non-numeric start/end for gene(s) {list(bad)}")
    g_start, g_end = starts.to_numpy(np.float64), ends.to_numpy(np.float64)
    if (g_start > g_end).any():
        bad = gname[g_start > g_end][:5]
        raise ValueError(f"gene_positions: start > end for gene(s) {list(bad)}")

    snp_idx, gene_idx = [], []
    for chrom in np.unique(g_chrom[np.isin(g_chrom, s_chrom)]):
        sel_s = np.flatnonzero(s_chrom == chrom)
        order = np.argsort(s_pos[sel_s], kind="mergesort")
        sorted_idx = sel_s[order]
        sorted_pos = s_pos[sorted_idx]
        for g in np.flatnonzero(g_chrom == chrom):
            lo = np.searchsorted(sorted_pos, g_start[g] - window, side="left")
            hi = np.searchsorted(sorted_pos, g_end[g] + window, side="right")
            if hi > lo:
                snp_idx.append(sorted_idx[lo:hi])
                gene_idx.append(np.full(hi - lo, g))
    if not snp_idx:
        return pd.DataFrame({"snp": pd.Series([], dtype=str), "gene": pd.Series([], dtype=str), "distance": pd.Series([], dtype=float)})
    si = np.concatenate(snp_idx)
    gi = np.concatenate(gene_idx)
    pos = s_pos[si]
    dist = np.where(pos < g_start[gi], g_start[gi] - pos, np.where(pos > g_end[gi], pos - g_end[gi], 0.0))
    out = pd.DataFrame({"snp": snp_ids[si], "gene": gname[gi], "distance": dist, "_s": si, "_g": g_start[gi]})
    out = out.sort_values(["_s", "_g", "gene"], kind="mergesort").drop(columns=["_s", "_g"])
    return out.drop_duplicates(["snp", "gene"]).reset_index(drop=True)
