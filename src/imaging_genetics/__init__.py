"""imaging-genetics: multi-task structured sparse CCA and joint graph-regularised NMF
for brain imaging genetics, with the data layer, prior networks, evaluation and
reports around them."""

from __future__ import annotations

__version__ = "0.1.0"

from .base import load  # noqa: E402

__all__ = ["__version__", "load", "Views"]


def __getattr__(name):
    # Views lives in io, which imports pandas/bed-reader: load it on first use only.
    if name == "Views":
        from .io.views import Views

        return Views
    raise AttributeError(f"module 'imaging_genetics' has no attribute {name!r}")
