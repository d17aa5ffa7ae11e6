"""Data layer: PLINK genotypes, CSV/TSV/Parquet tables and study files, all ending in
sample-aligned :class:`Views`."""

from __future__ import annotations

from .plink import PlinkSet, iter_plink, read_bim, read_fam, read_plink, write_plink
from .tables import read_table
from .views import Views
from .study import Study, load_study
from .writers import write_table

__all__ = [
    "read_plink",
    "read_bim",
    "read_fam",
    "iter_plink",
    "PlinkSet",
    "write_plink",
    "read_table",
    "write_table",
    "load_study",
    "Views",
    "Study",
]
