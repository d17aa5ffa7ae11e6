"""The papers' simulation designs, seeded.

* :func:`multitask_cca_data` — one SNP matrix with LD blocks against K imaging
  modalities with prescribed population canonical correlations (MTS2CCA paper).
* :func:`joint_nmf_data` — the JCB-SNMF paper's joint NMF design with planted
  co-modules and prior graphs.
"""

from __future__ import annotations

from .cca import multitask_cca_data
from .nmf import joint_nmf_data

__all__ = ["multitask_cca_data", "joint_nmf_data"]
