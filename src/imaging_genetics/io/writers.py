"""Atomic table output (CSV, TSV, Parquet), chosen by the file extension."""

from __future__ import annotations

import io as _io
import os
from pathlib import Path

import pandas as pd

from ..base import atomic_write_bytes

__all__ = ["write_table"]


def write_table(frame: pd.DataFrame, path: str | os.PathLike, *, index: bool = True) -> Path:
    """Write ``frame`` to ``path`` atomically (temporary file, then rename).

    Parameters
    ----------
    frame : DataFrame
        Written with its index as the first column (the sample ID column) unless
        ``index=False``.
    path : str or path-like
        ``.csv``, ``.tsv``/``.txt`` (tab-separated) or ``.parquet``.

    Raises
    ------
    ValueError
        An extension that is none of these.
    """
    path = Path(path)
    ext = path.suffix.lower()
    buf = _io.BytesIO()
    if ext == ".csv":
        buf.write(frame.to_csv(index=index).encode("utf-8"))
    elif ext in {".tsv", ".txt"}:
        buf.write(frame.to_csv(index=index, sep="\t").encode("utf-8"))
    elif ext == ".parquet":
        frame.to_parquet(buf, index=index)
    else:
        raise ValueError(f"write_table: cannot tell the format of {path}; use .csv, .tsv or .parquet")
    data = buf.getvalue()
    return atomic_write_bytes(path, lambda fh: fh.write(data))
