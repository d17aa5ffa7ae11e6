"""The papers' simulation designs, seeded.

* :func:`multitask_cca_data` — one SNP matrix with LD blocks against K imaging
  modalities with prescribed population canonical correlations (MTS2CCA paper).
* :func:`joint_nmf_data` — the JCB-SNMF paper's joint NMF design with planted
  co-modules and prior graphs.
* :func:`genotype_cca_data` — the multi-task CCA design on simulated 0/1/2
  genotypes with realistic LD (used by the demo).
* :func:`simulate_genotypes` — 0/1/2 genotypes with realistic LD (coalescent via
  msprime when installed, a haplotype-block model otherwise).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "multitask_cca_data": "cca",
    "joint_nmf_data": "nmf",
    "simulate_genotypes": "genotypes",
    "coalescent_available": "genotypes",
    "genotype_cca_data": "genotype_cca",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'imaging_genetics.simulate' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__():
    return __all__
