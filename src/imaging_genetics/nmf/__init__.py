"""Joint graph-regularised NMF family for imaging genetics.

* :class:`JNMF` — joint NMF with a shared basis (Zhang et al. 2012).
* :class:`JSNMNMF` — JNMF plus cross-modality priors and sparsity.
* :class:`JCBSNMF` — JSNMNMF plus within-modality graph (Laplacian) smoothing.

All three are configurations of one multiplicative-update core
(:mod:`imaging_genetics.nmf._core`) implementing the corrected updates of
spec joint_nmf.md §2.2. :func:`fit_settings` fits many settings of the penalty
weights at once, stacked like restarts (the engine of the batched grid search).
"""

from __future__ import annotations

from ._base import BoundednessWarning, fit_settings
from .models import JCBSNMF, JNMF, JSNMNMF

__all__ = ["JNMF", "JSNMNMF", "JCBSNMF", "BoundednessWarning", "fit_settings"]
