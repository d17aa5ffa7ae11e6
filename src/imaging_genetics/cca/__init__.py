"""Structured sparse CCA family (spec sparse_cca.md): one solver core, thin models.

* :class:`MTS2CCA` — multi-task structured sparse CCA (l2,1 + GraphNet on U and V).
* :class:`MTSCCA` — multi-task sparse CCA (l2,1 only).
* :class:`MTGSCCA` — MTSCCA plus a group l2,1 penalty over SNP groups (LD blocks).
* :class:`JCBSCCA` — one shared SNP vector, l1 + GraphNet + fusion between modalities.
* :class:`SCCA` — l1 sparse CCA per modality.
* :class:`TCCA` — tensor CCA with a rank-one imaging weight.

Fit with ``model.fit(X, Ys)``: X (n, p), Ys a list of K (n, q_k) matrices.
:func:`row_norms` and :func:`select_features` turn weights into a feature ranking
and an explicit selection.
"""

from ._base import BaseSparseCCA, row_norms, select_features
from ._models import JCBSCCA, MTGSCCA, MTS2CCA, MTSCCA, SCCA, TCCA

__all__ = ["SCCA", "TCCA", "JCBSCCA", "MTSCCA", "MTGSCCA", "MTS2CCA", "BaseSparseCCA",
           "row_norms", "select_features"]
