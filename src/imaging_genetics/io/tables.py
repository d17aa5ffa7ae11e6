"""Tabular inputs: CSV, TSV and Parquet files with one row per sample (or per edge)."""

from __future__ import annotations

import csv
import gzip
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["read_table", "non_numeric_columns", "TABLE_EXTENSIONS"]

log = logging.getLogger(__name__)

#: File extensions understood by :func:`read_table` (optionally followed by ``.gz``
#: for the text formats).
TABLE_EXTENSIONS = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq")

_FIRST = object()


def _format(path: Path) -> tuple[str, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    ext = suffixes[-2] if compressed and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if ext in (".parquet", ".pq"):
        if compressed:
            raise ValueError(f"{path}: gzipped Parquet is not supported; Parquet is already compressed")
        return "parquet", False
    if ext in (".csv", ".tsv", ".tab", ".txt"):
        return ext, compressed
    raise ValueError(
        f"{path}: unknown table format {ext or '(no extension)'!r}; use one of "
        f"{', '.join(TABLE_EXTENSIONS)} (text formats may end in .gz)"
    )


def _sniff_delimiter(path: Path, ext: str, compressed: bool) -> str:
    opener = gzip.open if compressed else open
    with opener(path, "rt", newline="") as fh:
        sample = fh.read(64 * 1024)
    if not sample.strip():
        raise ValueError(f"{path}: file is empty; expected a header line and one row per record")
    first = sample.splitlines()[0]
    # The extension decides when its delimiter is in the header; otherwise sniff.
    if ext == ".csv" and "," in first:
        return ","
    if ext in (".tsv", ".tab") and "\t" in first:
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;| ").delimiter
    except csv.Error:
        for delim in ("\t", ",", ";", "|"):
            if delim in first:
                return delim
        if len(first.split()) > 1:  # columns aligned with runs of spaces
            return " "
        return "\t" if ext in (".tsv", ".tab") else ","


def non_numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Names of the columns of ``frame`` whose dtype is neither numeric nor boolean."""
    return [
        str(c)
        for c in frame.columns
        if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    ]


def read_table(
    path: str | os.PathLike,
    id_column: str | int | None = _FIRST,  # type: ignore[assignment]
    *,
    columns: Sequence[str] | None = None,
    numeric: bool = False,
    sep: str | None = None,
    text: bool = False,
) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet table, with an ID column as its index.

    The format follows the extension (``.csv``, ``.tsv``, ``.tab``, ``.txt``, each
    optionally ``.gz``; ``.parquet``/``.pq``); the delimiter of a text file is
    sniffed from its first lines unless ``sep`` is given.

    Parameters
    ----------
    path : str or path
    id_column : str, int or None, default: the first column
        Column holding the sample (or record) IDs; it becomes the index (as strings,
        so ``"007"`` stays ``"007"`` and matches IDs in other files). An int is a
        column position. ``None`` keeps a default RangeIndex (e.g. edge lists).
    columns : sequence of str, optional
        Keep only these columns (besides the ID column), in this order.
    numeric : bool, default False
        Require every kept column to be numeric (data matrices); the error lists the
        non-numeric columns.
    sep : str, optional
        Field delimiter of a text file (default: sniffed).
    text : bool, default False
        Read every column of a text file as text (edge lists: node names such as
        ``"001"`` keep their leading zeros; convert numeric columns yourself).

    Returns
    -------
    DataFrame of shape (n_rows, n_columns)
        Index = the IDs (named after the ID column) unless ``id_column=None``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unknown extension, empty file, no such ID column or requested column, missing
        or duplicated IDs (the message names the file and the IDs), non-numeric columns
        when ``numeric=True``.
    """
    if not (id_column is None or id_column is _FIRST or isinstance(id_column, str)
            or (isinstance(id_column, (int, np.integer)) and not isinstance(id_column, bool))):
        raise TypeError(f"id_column must be a column name, a column position or None, got {id_column!r}")
    if columns is not None:
        columns = [str(c) for c in columns]
        dup = sorted({c for c in columns if columns.count(c) > 1})
        if dup:
            raise ValueError(f"columns: duplicated name(s) {dup[:5]}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: file not found (absolute path {path.resolve()}); check the path "
            "(paths in a study YAML are relative to the YAML file)"
        )
    kind, compressed = _format(path)
    try:
        frame = _read_frame(path, kind, compressed, id_column, sep, text)
    except (UnicodeDecodeError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        what = "Parquet" if kind == "parquet" else ("gzipped text" if compressed else "UTF-8 text")
        raise ValueError(f"{path}: not a readable {what} table ({exc}); check that the file is "
                         "complete and matches its extension") from exc
    except ValueError as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(f"{path}: could not read the table ({exc})") from exc
    frame = _finish_table(frame, path, id_column, columns, numeric)
    log.info("read_table: %s: %d rows x %d columns", path, frame.shape[0], frame.shape[1])
    return frame


def _read_frame(path: Path, kind: str, compressed: bool, id_column: Any, sep: str | None,
                text: bool = False) -> pd.DataFrame:
    if kind == "parquet":
        frame = pd.read_parquet(path)
        if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()  # a stored index (e.g. from write_table) is the ID column
    else:
        delimiter = sep if sep is not None else _sniff_delimiter(path, kind, compressed)
        _check_header(path, delimiter, compressed)
        options = dict(
            sep=r"\s+" if delimiter == " " else delimiter,
            compression="gzip" if compressed else None,
        )
        try:
            dtype = str if text else None
            if id_column is not None and not text:
                # Read the ID column as text so that "007" keeps its leading zeros.
                header = pd.read_csv(path, nrows=0, **options).columns
                key = header[0 if id_column is _FIRST else id_column] if (
                    id_column is _FIRST
                    or (isinstance(id_column, int) and -len(header) <= id_column < len(header))
                ) else id_column
                if key in header:
                    dtype = {key: str}
            frame = pd.read_csv(path, dtype=dtype, low_memory=False, **options)
        except pd.errors.EmptyDataError as exc:
            raise ValueError(f"{path}: file is empty; expected a header line") from exc
        except pd.errors.ParserError as exc:
            raise ValueError(f"{path}: could not parse with delimiter {delimiter!r} ({exc}); pass sep=") from exc
    return frame


def _finish_table(frame: pd.DataFrame, path: Path, id_column: Any, columns: Any, numeric: bool) -> pd.DataFrame:
    # spaces around names and IDs ("A ," or ", x") are layout, not part of the name: kept,
    # "A " would not match "A" in another file and the sample would be dropped
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()].unique().tolist()
        raise ValueError(f"{path}: duplicated column name(s) {dup[:5]}; rename them")
    if id_column is not None:
        if id_column is _FIRST:
            id_column = 0
        if isinstance(id_column, int) and not isinstance(id_column, bool):
            if not -frame.shape[1] <= id_column < frame.shape[1]:
                raise ValueError(
                    f"{path}: id_column={id_column} is out of range; the file has "
                    f"{frame.shape[1]} columns"
                )
            id_column = frame.columns[id_column]
        id_column = str(id_column)
        if id_column not in frame.columns:
            raise ValueError(
                f"{path}: no ID column {id_column!r}; columns are {list(frame.columns)[:10]}"
                f"{' ...' if frame.shape[1] > 10 else ''}; set id_column to the column that "
                "holds the sample IDs"
            )
        ids = frame[id_column]
        if ids.isna().any():
            rows = np.flatnonzero(ids.isna().to_numpy())[:5] + 2  # 1-based, after header
            raise ValueError(
                f"{path}: {int(ids.isna().sum())} row(s) without an ID in column {id_column!r} "
                f"(e.g. line(s) {rows.tolist()}); fill in or remove those rows"
            )
        ids = ids.map(_id_to_str).str.strip()
        if (ids == "").any():
            rows = np.flatnonzero((ids == "").to_numpy())[:5] + 2
            raise ValueError(f"{path}: {int((ids == '').sum())} row(s) with a blank ID in column {id_column!r} "
                             f"(e.g. line(s) {rows.tolist()}); fill in or remove those rows")
        dup = ids[ids.duplicated()]
        if len(dup):
            raise ValueError(
                f"{path}: {len(dup)} duplicated ID(s) in column {id_column!r}, e.g. "
                f"{dup.unique()[:5].tolist()}; each sample must appear once: remove or "
                "merge the duplicated rows"
            )
        frame = frame.drop(columns=id_column)
        frame.index = pd.Index(ids.to_numpy(dtype=object), name=id_column, dtype=str)
    if columns is not None:
        columns = [str(c) for c in columns]
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(
                f"{path}: column(s) {missing[:5]} not found; available: "
                f"{list(frame.columns)[:10]}{' ...' if frame.shape[1] > 10 else ''}"
            )
        frame = frame[columns]
    if numeric:
        if frame.shape[0] == 0:
            raise ValueError(f"{path}: has a header but no data rows; expected one row per sample")
        if frame.shape[1] == 0:
            raise ValueError(f"{path}: no data columns besides the ID column; check the delimiter "
                             "(pass sep=) and the header line")
        bad = non_numeric_columns(frame)
        if bad:
            examples = {c: frame[c].dropna().astype(str).head(2).tolist() for c in bad[:3]}
            raise ValueError(
                f"{path}: {len(bad)} non-numeric column(s) {bad[:5]} (values such as "
                f"{examples}); encode them as numbers or drop them from the file "
                "(or select numeric columns with columns=...)"
            )
    return frame


def _check_header(path: Path, delimiter: str, compressed: bool) -> None:
    """Duplicated names in a text header (pandas would rename them silently)."""
    opener = gzip.open if compressed else open
    with opener(path, "rt", newline="") as fh:
        line = fh.readline()
    names = line.split() if delimiter == " " else next(csv.reader([line], delimiter=delimiter), [])
    names = [n.strip() for n in names]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{path}: duplicated column name(s) {dup[:5]} in the header; rename them")


def _id_to_str(value: Any) -> str:
    """IDs as strings; integral floats (``12.0`` after a numeric read) become ``"12"``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
