"""PLINK 1 binary genotype files (``.bed`` / ``.bim`` / ``.fam``).

The genotype matrix is decoded by `bed-reader <https://pypi.org/project/bed-reader/>`_;
this module reads the two text files itself so that every problem with a file set
(missing member, wrong magic bytes, truncated ``.bed``, line counts that do not match
the ``.bed`` size, duplicated sample IDs) gets an error that names the file and the fix.

Coding
------
Genotypes are returned as the additive dosage of the **A1 allele** (column 5 of the
``.bim``): ``2`` = homozygous A1, ``1`` = heterozygous, ``0`` = homozygous A2, missing
calls as ``NaN``. This is PLINK's own convention for ``--recode A`` and bed-reader's
``count_A1=True``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from .._validation import check_positive_int

__all__ = ["read_plink", "read_bim", "read_fam", "write_plink", "iter_plink", "plink_paths", "PlinkSet"]

log = logging.getLogger(__name__)

#: First three bytes of a SNP-major PLINK 1 ``.bed`` file.
BED_MAGIC = bytes([0x6C, 0x1B, 0x01])

BIM_COLUMNS = ["chrom", "snp", "cm", "pos", "a1", "a2"]
FAM_COLUMNS = ["fid", "iid", "father", "mother", "sex", "phenotype"]


def plink_paths(prefix: str | os.PathLike) -> dict[str, Path]:
    """Paths of the three members of a PLINK file set.

    ``prefix`` may be given with or without one of the extensions ``.bed``, ``.bim``
    or ``.fam`` (``"data/geno"`` and ``"data/geno.bed"`` are the same file set).
    """
    p = Path(prefix)
    if p.suffix in (".bed", ".bim", ".fam"):
        p = p.with_suffix("")
    return {ext: Path(f"{p}.{ext}") for ext in ("bed", "bim", "fam")}


def _require(path: Path, what: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: {what} file not found; a PLINK file set needs {path.with_suffix('.bed').name}, "
            f"{path.with_suffix('.bim').name} and {path.with_suffix('.fam').name} side by side "
            "(pass the common prefix, e.g. 'data/geno')"
        )


def _read_whitespace_table(path: Path, columns: list[str], dtypes: dict[str, Any]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            dtype=str,
            keep_default_na=False,
        )
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=range(len(columns)), dtype=str)
    except pd.errors.ParserError as exc:
        raise ValueError(
            f"{path}: could not parse as a whitespace-separated table with {len(columns)} "
            f"columns ({exc})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: not a text file ({exc.reason} at byte {exc.start}); is this a PLINK 1 "
            f"{path.suffix} file?"
        ) from exc
    if frame.shape[1] != len(columns):
        raise ValueError(
            f"{path}: expected {len(columns)} whitespace-separated columns "
            f"({', '.join(columns)}), found {frame.shape[1]}; is this a PLINK 1 "
            f"{path.suffix} file?"
        )
    frame.columns = columns
    for col, kind in dtypes.items():
        try:
            frame[col] = frame[col].astype(kind)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: column {col!r} is not {kind} ({exc})") from exc
    return frame


def read_bim(prefix: str | os.PathLike) -> pd.DataFrame:
    """Read the variant table (``.bim``) of a PLINK file set.

    Parameters
    ----------
    prefix : str or path
        File-set prefix (with or without ``.bed``/``.bim``/``.fam``).

    Returns
    -------
    DataFrame of shape (n_snps, 6)
        Columns ``chrom`` (str), ``snp`` (str), ``cm`` (float), ``pos`` (int, base
        pairs), ``a1`` (str, the counted allele), ``a2`` (str); default RangeIndex in
        file order. Pass it as ``positions`` to
        :func:`imaging_genetics.networks.ld_graph`.

    Raises
    ------
    FileNotFoundError
        The ``.bim`` file does not exist.
    ValueError
        Not six columns, non-numeric positions, or duplicated SNP IDs.
    """
    path = plink_paths(prefix)["bim"]
    _require(path, "variant (.bim)")
    bim = _read_whitespace_table(path, BIM_COLUMNS, {"cm": "float64", "pos": "int64"})
    dup = bim["snp"][bim["snp"].duplicated()]
    if len(dup):
        raise ValueError(
            f"{path}: {len(dup)} duplicated SNP ID(s), e.g. {dup.unique()[:5].tolist()}; "
            "give every variant a unique ID (e.g. plink2 --set-all-var-ids @:#:$r:$a)"
        )
    return bim


def read_fam(prefix: str | os.PathLike) -> pd.DataFrame:
    """Read the sample table (``.fam``) of a PLINK file set.

    Returns
    -------
    DataFrame of shape (n_samples, 6)
        Columns ``fid``, ``iid``, ``father``, ``mother`` (str), ``sex`` (int: 1 male,
        2 female, 0 unknown) and ``phenotype`` (str, as written).

    Raises
    ------
    FileNotFoundError
        The ``.fam`` file does not exist.
    ValueError
        Not six columns, or duplicated IIDs (the IID is the sample key of the package).
    """
    path = plink_paths(prefix)["fam"]
    _require(path, "sample (.fam)")
    fam = _read_whitespace_table(path, FAM_COLUMNS, {"sex": "int64"})
    dup = fam["iid"][fam["iid"].duplicated()]
    if len(dup):
        raise ValueError(
            f"{path}: {len(dup)} duplicated sample IID(s), e.g. {dup.unique()[:5].tolist()}; "
            "sample IDs must be unique (samples are matched across files by IID): "
            "remove the duplicates or make the IIDs unique (e.g. FID_IID)"
        )
    return fam


def _check_bed(path: Path, n_samples: int, n_snps: int, paths: dict[str, Path]) -> None:
    """Magic bytes and exact size of a SNP-major ``.bed``."""
    _require(path, "genotype (.bed)")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(3)
    if head[:2] != BED_MAGIC[:2]:
        raise ValueError(
            f"{path}: not a PLINK 1 .bed file (first bytes {head.hex(' ')}, expected 6c 1b 01); "
            "convert it with plink --make-bed"
        )
    if len(head) < 3 or head[2] != 0x01:
        mode = "truncated header" if len(head) < 3 else "individual-major mode (third byte 00)"
        raise ValueError(
            f"{path}: {mode}; only SNP-major .bed files are supported: "
            "rewrite it with plink --make-bed"
        )
    bytes_per_snp = (n_samples + 3) // 4
    expected = 3 + n_snps * bytes_per_snp
    if size != expected:
        snps_in_bed = (size - 3) / bytes_per_snp if bytes_per_snp else float("nan")
        problem = "truncated" if size < expected else "longer than expected"
        raise ValueError(
            f"{path}: file is {size} bytes but {paths['fam'].name} lists {n_samples} samples and "
            f"{paths['bim'].name} lists {n_snps} SNPs, which need {expected} bytes "
            f"(3 + {n_snps} x {bytes_per_snp}); the .bed is {problem} (it holds "
            f"{snps_in_bed:.6g} SNPs' worth of data for {n_samples} samples). "
            "Re-copy the file or regenerate the .bim/.fam that belong to it"
        )


def _check_padding(path: Path, fam: pd.DataFrame, n_snps: int, snp_idx: np.ndarray | slice,
                   paths: dict[str, Path]) -> None:
    """Catch a ``.fam`` whose line count differs from the ``.bed``'s within one byte.

    The ``.bed`` size only fixes ``ceil(n / 4)``, so a ``.fam`` with one line too few
    or too many can pass the size check. Two signs give it away in the last byte
    of each SNP: set padding bits (the ``.fam`` lists fewer samples than the
    ``.bed`` holds; PLINK writes padding as zeros) and a last sample that decodes
    as homozygous A1 at every SNP, which is what zero padding reads as (it lists
    more). The first is an error, the second a warning, since it can be genuine.
    """
    n = len(fam)
    if n == 0 or n_snps == 0:
        return
    bytes_per_snp = (n + 3) // 4
    rows = np.arange(n_snps)[snp_idx]
    if rows.size == 0:
        return
    table = np.memmap(path, dtype=np.uint8, mode="r", offset=3, shape=(n_snps, bytes_per_snp))
    last = np.asarray(table[rows, bytes_per_snp - 1])
    del table
    used = n - 4 * (bytes_per_snp - 1)  # samples held by the last byte (1..4)
    if used < 4 and (last >> (2 * used)).any():
        raise ValueError(
            f"{path}: the padding bits after the last of the {n} samples listed in "
            f"{paths['fam'].name} are set, so the .bed holds more samples than "
            f"{paths['fam'].name} lists (a line is missing?); use the .fam that belongs "
            "to this .bed"
        )
    if rows.size >= 8 and not ((last >> (2 * (used - 1))) & 0b11).any():
        import warnings

        warnings.warn(
            f"{paths['fam']}: the last sample ({fam['iid'].iloc[-1]!r}) is homozygous A1 at "
            f"all {rows.size} SNPs read, which is what the .bed's padding decodes to when "
            f"{paths['fam'].name} lists more samples than {path.name} holds; check that "
            "the .fam belongs to this .bed",
            UserWarning,
            stacklevel=3,
        )


def _resolve_index(
    selection: Any, names: pd.Index, what: str, source: Path
) -> np.ndarray | slice:
    """Turn a selection (None, slice, names, integer positions or boolean mask) into
    integer positions in the order given (or a slice)."""
    if selection is None:
        return slice(None)
    if isinstance(selection, slice):
        return selection
    if isinstance(selection, (str, bytes)):
        selection = [selection]
    sel = np.asarray(list(selection) if not isinstance(selection, np.ndarray) else selection)
    if sel.size == 0:
        raise ValueError(f"{what}: empty selection; pass None to read all {len(names)}")
    if sel.dtype == bool:
        if sel.shape != (len(names),):
            raise ValueError(
                f"{what}: boolean mask has length {sel.size}, expected {len(names)} "
                f"(one per line of {source.name})"
            )
        return np.flatnonzero(sel)
    if np.issubdtype(sel.dtype, np.integer):
        if sel.min() < -len(names) or sel.max() >= len(names):
            raise ValueError(f"{what}: integer position out of range 0..{len(names) - 1}")
        return np.where(sel < 0, sel + len(names), sel).astype(np.int64)
    idx = names.get_indexer(sel.astype(str))
    if (idx < 0).any():
        missing = sel[idx < 0]
        raise ValueError(
            f"{what}: {missing.size} ID(s) not found in {source}, e.g. {missing[:5].tolist()}; "
            "check the spelling against that file"
        )
    return idx.astype(np.int64)


class PlinkSet:
    """A PLINK 1 binary file set opened once for many reads.

    The ``.bim`` and ``.fam`` are read and the ``.bed`` checked (magic bytes, size)
    when it is opened, and the ``.bed`` stays open, so reading a large set chunk
    by chunk (:func:`iter_plink`, ``GenotypeQC.fit_plink``,
    ``networks.ld_graph_plink``) does not re-read the tables for every chunk.
    :func:`read_plink` is one :meth:`read` of a set opened for it.

    Parameters
    ----------
    prefix : str or path
        File-set prefix, e.g. ``"data/geno"``.
    num_threads : int, optional
        Threads for bed-reader (default: its own default).

    Attributes
    ----------
    bim : DataFrame, one row per SNP (``chrom``, ``snp``, ``cm``, ``pos``, ``a1``, ``a2``)
    fam : DataFrame, one row per sample
    paths : dict of the three file paths

    Examples
    --------
    >>> with PlinkSet("data/geno") as geno:                        # doctest: +SKIP
    ...     G = geno.read(snps=slice(0, 10_000), samples=train_ids)
    """

    def __init__(self, prefix: str | os.PathLike, num_threads: int | None = None) -> None:
        self.paths = plink_paths(prefix)
        for ext, what in (("bed", "genotype (.bed)"), ("bim", "variant (.bim)"), ("fam", "sample (.fam)")):
            _require(self.paths[ext], what)
        self.bim = read_bim(prefix)
        self.fam = read_fam(prefix)
        _check_bed(self.paths["bed"], len(self.fam), len(self.bim), self.paths)
        self.num_threads = num_threads
        self._bed = None
        self._snp_names = pd.Index(self.bim["snp"])
        self._iid_names = pd.Index(self.fam["iid"])

    def __enter__(self) -> "PlinkSet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the ``.bed`` (reopened by the next :meth:`read`)."""
        if self._bed is not None:
            self._bed.__exit__(None, None, None)
            self._bed = None

    def snp_index(self, snps: Any) -> np.ndarray | slice:
        """Positions in the ``.bim`` of a SNP selection, as :meth:`read` takes it."""
        return _resolve_index(snps, self._snp_names, "snps", self.paths["bim"])

    def read(self, snps: Any = None, samples: Any = None, *, dtype: str = "float64",
             return_bim: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
        """Dosages of the selected SNPs and samples; see :func:`read_plink`."""
        from bed_reader import open_bed

        if dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
        bim, fam, paths = self.bim, self.fam, self.paths
        snp_idx = self.snp_index(snps)
        iid_idx = _resolve_index(samples, self._iid_names, "samples", paths["fam"])
        _check_padding(paths["bed"], fam, len(bim), snp_idx, paths)
        bim_sel = bim.iloc[snp_idx].reset_index(drop=True)
        fam_sel = fam.iloc[iid_idx]
        if len(bim_sel) == 0 or len(fam_sel) == 0:
            values = np.empty((len(fam_sel), len(bim_sel)), dtype=dtype)
        else:
            if self._bed is None:
                self._bed = open_bed(paths["bed"], iid_count=len(fam), sid_count=len(bim), count_A1=True,
                                     num_threads=self.num_threads).__enter__()
            values = self._bed.read(index=np.s_[iid_idx, snp_idx], dtype=dtype, order="C")
        frame = pd.DataFrame(
            values,
            index=pd.Index(fam_sel["iid"].to_numpy(), name="IID"),
            columns=pd.Index(bim_sel["snp"].to_numpy(), name="SNP"),
            copy=False,
        )
        log.debug(
            "read_plink: %s: %d samples x %d SNPs (of %d x %d in the file set)",
            paths["bed"], frame.shape[0], frame.shape[1], len(fam), len(bim),
        )
        return (frame, bim_sel) if return_bim else frame


def read_plink(
    prefix: str | os.PathLike,
    snps: Any = None,
    samples: Any = None,
    *,
    dtype: str = "float64",
    return_bim: bool = False,
    num_threads: int | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Read a PLINK 1 binary file set as a samples x SNPs dosage table.

    Parameters
    ----------
    prefix : str or path
        File-set prefix, e.g. ``"data/geno"`` for ``geno.bed``/``geno.bim``/``geno.fam``.
    snps : None, slice, sequence of SNP IDs, integer positions or boolean mask, optional
        Which variants to read (default all). A slice such as ``slice(0, 10_000)`` reads
        a chunk of a large file; see also :func:`iter_plink`.
    samples : None, slice, sequence of IIDs, integer positions or boolean mask, optional
        Which samples to read (default all).
    dtype : {"float64", "float32"}
    return_bim : bool, default False
        Also return the ``.bim`` rows of the SNPs read (same order as the columns).
    num_threads : int, optional
        Threads for bed-reader (default: its own default).

    Returns
    -------
    DataFrame of shape (n_samples, n_snps)
        Additive dosage of the A1 allele (0/1/2) as float, missing calls as NaN;
        index = IID (named ``"IID"``), columns = SNP IDs (named ``"SNP"``).
        With ``return_bim=True``: ``(genotypes, bim)``.

    Raises
    ------
    FileNotFoundError
        A member of the file set is missing (the message names which).
    ValueError
        Wrong magic bytes, a ``.bed`` whose size does not match the ``.fam``/``.bim``
        line counts (truncated file or mismatched tables), duplicated IIDs or SNP IDs,
        unknown IDs in ``snps``/``samples``.

    Examples
    --------
    >>> G = read_plink("data/geno")                      # doctest: +SKIP
    >>> G, bim = read_plink("data/geno", snps=slice(0, 1000), return_bim=True)  # doctest: +SKIP
    """
    with PlinkSet(prefix, num_threads=num_threads) as geno:
        out = geno.read(snps, samples, dtype=dtype, return_bim=return_bim)
    frame = out[0] if return_bim else out
    log.info(
        "read_plink: %s: %d samples x %d SNPs (of %d x %d in the file set)",
        geno.paths["bed"], frame.shape[0], frame.shape[1], len(geno.fam), len(geno.bim),
    )
    return out


def iter_plink(
    prefix: str | os.PathLike,
    chunk_size: int = 10_000,
    samples: Any = None,
    *,
    dtype: str = "float64",
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Read a large PLINK file set in consecutive chunks of SNPs.

    The ``.bim`` and ``.fam`` are read once (:class:`PlinkSet`), not per chunk.

    Yields
    ------
    (genotypes, bim) : DataFrame of shape (n_samples, <= chunk_size) and its ``.bim`` rows
        As :func:`read_plink` with ``return_bim=True`` for ``snps=slice(start, start +
        chunk_size)``. Memory holds one chunk at a time.
    """
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    with PlinkSet(prefix) as geno:
        n_snps = len(geno.bim)
        for start in range(0, n_snps, chunk_size):
            yield geno.read(slice(start, min(start + chunk_size, n_snps)), samples, dtype=dtype, return_bim=True)


def _check_plink_fields(bim: pd.DataFrame, fam: pd.DataFrame) -> None:
    """What PLINK (and :func:`read_plink`) cannot read back: IDs that are empty or hold
    whitespace (the files are whitespace-delimited), duplicated SNP IDs, positions and
    sex codes that are not whole numbers."""
    for label, table, keys in (("bim", bim, ("chrom", "snp", "a1", "a2")), ("fam", fam, ("fid", "iid", "father", "mother"))):
        for key in keys:
            values = table[key].astype(str)
            bad = values[(values.str.strip() == "") | values.str.contains(r"\s", regex=True)]
            if len(bad):
                raise ValueError(f"{label}: {len(bad)} {key!r} value(s) empty or with whitespace (e.g. "
                                 f"{bad.head(3).tolist()}); PLINK files are whitespace-delimited")
    dup = bim["snp"].astype(str)
    dup = dup[dup.duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"bim: duplicated SNP ID(s) {dup[:5]}; SNP IDs must be unique")
    for label, table, key in (("bim", bim, "pos"), ("fam", fam, "sex")):
        values = pd.to_numeric(table[key], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~(np.isfinite(values) & (values == np.round(values)))
        if bad.any():
            raise ValueError(f"{label}: {int(bad.sum())} {key!r} value(s) that are not whole numbers (e.g. "
                             f"{table[key][bad].head(3).tolist()})")


def write_plink(
    prefix: str | os.PathLike,
    genotypes: Any,
    bim: pd.DataFrame | None = None,
    fam: pd.DataFrame | None = None,
) -> Path:
    """Write a samples x SNPs dosage table as a PLINK 1 binary file set.

    Parameters
    ----------
    prefix : str or path
        Output prefix; ``.bed``, ``.bim`` and ``.fam`` are written (overwritten).
    genotypes : DataFrame or array of shape (n_samples, n_snps)
        A1 dosages in {0, 1, 2}, NaN for missing. A DataFrame's index gives the IIDs and
        its columns the SNP IDs (else ``sample0..`` and ``snp0..``).
    bim : DataFrame of shape (n_snps, 6), optional
        Columns as returned by :func:`read_bim`. Default: chromosome 1, positions 1..p,
        alleles A1 = ``A``, A2 = ``G``, IDs from the columns.
    fam : DataFrame of shape (n_samples, 6), optional
        Columns as returned by :func:`read_fam`. Default: FID = IID, unknown parents,
        sex and phenotype.

    Returns
    -------
    pathlib.Path
        The ``.bed`` file written; the ``.bim`` and ``.fam`` lie next to it.

    Raises
    ------
    ValueError
        Values other than 0, 1, 2 or NaN (the message names the SNP column), or
        ``bim``/``fam`` whose length does not match the genotypes.
    """
    from bed_reader import to_bed

    paths = plink_paths(prefix)
    frame = genotypes if isinstance(genotypes, pd.DataFrame) else pd.DataFrame(np.asarray(genotypes))
    values = np.asarray(frame, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"genotypes: expected a 2-D (n_samples, n_snps) table, got shape {values.shape}")
    n, p = values.shape
    finite = np.isfinite(values)
    bad = ~(np.isnan(values) | (finite & np.isin(values, (0.0, 1.0, 2.0))))
    if bad.any():
        cols = [str(c) for c in frame.columns[bad.any(axis=0)][:5]]
        raise ValueError(
            f"genotypes: {int(bad.sum())} value(s) other than 0, 1, 2 or NaN in column(s) {cols}; "
            "PLINK .bed stores hard calls only: round dosages first"
        )
    if isinstance(genotypes, pd.DataFrame):
        iids = [str(i) for i in frame.index]
        sids = [str(c) for c in frame.columns]
    else:
        iids = [f"sample{i}" for i in range(n)]
        sids = [f"snp{j}" for j in range(p)]
    if bim is None:
        bim = pd.DataFrame(
            {"chrom": "1", "snp": sids, "cm": 0.0, "pos": np.arange(1, p + 1), "a1": "A", "a2": "G"}
        )
    if fam is None:
        fam = pd.DataFrame(
            {"fid": iids, "iid": iids, "father": "0", "mother": "0", "sex": 0, "phenotype": "-9"}
        )
    for label, table, cols, count in (("bim", bim, BIM_COLUMNS, p), ("fam", fam, FAM_COLUMNS, n)):
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise ValueError(f"{label}: missing column(s) {missing}; expected {cols}")
        if len(table) != count:
            raise ValueError(
                f"{label}: has {len(table)} rows but genotypes have {count} "
                f"{'SNPs (columns)' if label == 'bim' else 'samples (rows)'}"
            )
    if len(set(fam["iid"].astype(str))) != n:
        raise ValueError("fam: duplicated IIDs; sample IDs must be unique")
    if isinstance(genotypes, pd.DataFrame):
        # the table's own labels must be those the files give its rows and columns
        for label, key, given, what in (("bim", "snp", sids, "columns"), ("fam", "iid", iids, "index")):
            written = [str(v) for v in (bim if label == "bim" else fam)[key]]
            if written != given:
                at = next(i for i, (a, b) in enumerate(zip(written, given)) if a != b)
                raise ValueError(f"{label}: its {key!r} column differs from the genotypes' {what} (position "
                                 f"{at}: {written[at]!r} vs {given[at]!r}); give them in the same order")
    _check_plink_fields(bim, fam)
    from ..base import _new_file_mode, atomic_write_bytes

    paths["bed"].parent.mkdir(parents=True, exist_ok=True)
    # Each member is written to a temporary file and renamed into place, so a killed
    # run never leaves a half-written .bed/.bim/.fam.
    # bed-reader also writes a .bim/.fam beside the .bed, so it works in a
    # temporary folder; only the .bed is taken from there.
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{paths['bed'].name}.", dir=paths["bed"].parent))
    try:
        tmp = tmp_dir / "part.bed"
        to_bed(tmp, np.ascontiguousarray(values, dtype=np.float32), count_A1=True,
               properties={"iid": fam["iid"].astype(str).tolist(), "sid": bim["snp"].astype(str).tolist()})
        # The text files are written here so that every column is kept exactly as given.
        bim_text = bim[BIM_COLUMNS].astype(str).to_csv(sep="\t", header=False, index=False)
        fam_text = fam[FAM_COLUMNS].astype(str).to_csv(sep=" ", header=False, index=False)
        atomic_write_bytes(paths["bim"], lambda fh: fh.write(bim_text.encode("utf-8")))
        atomic_write_bytes(paths["fam"], lambda fh: fh.write(fam_text.encode("utf-8")))
        os.chmod(tmp, _new_file_mode(paths["bed"]))
        os.replace(tmp, paths["bed"])
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    log.info("write_plink: wrote %d samples x %d SNPs to %s", n, p, paths["bed"])
    return paths["bed"]
