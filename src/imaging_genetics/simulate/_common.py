"""Argument handling shared by the simulators: random states.

``random_state`` is read the same way by every simulator:

* ``None`` — numpy's global random state (``np.random.seed`` makes it repeatable;
  otherwise the data differ from call to call);
* an int >= 0 — a seed: the same seed gives the same data;
* a ``numpy.random.RandomState`` or ``numpy.random.Generator`` — the source of
  randomness, advanced by the draws (two calls with the same object give
  different data, a freshly seeded object gives the same data each time);
* a ``numpy.random.BitGenerator`` or ``numpy.random.SeedSequence`` — as numpy
  reads them.

The genotype and joint-NMF simulators draw through the legacy ``RandomState``
interface and :func:`multitask_cca_data` through a ``Generator``; the two helpers
here turn any accepted ``random_state`` into the one a simulator needs, sharing the
bit generator rather than reseeding where an object is given.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["legacy_random_state", "generator"]

_SEED_OBJECTS = (np.random.RandomState, np.random.Generator, np.random.BitGenerator,
                 np.random.SeedSequence)


def _check_random_state(random_state: Any):
    if random_state is None or isinstance(random_state, _SEED_OBJECTS):
        return random_state
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError(
            "random_state must be None, an int >= 0, a numpy RandomState or a numpy "
            f"Generator, got {random_state!r} ({type(random_state).__name__})"
        )
    if random_state < 0:
        raise ValueError(f"random_state: an integer seed must be >= 0, got {random_state!r}")
    return int(random_state)


def legacy_random_state(random_state: Any) -> np.random.RandomState:
    """A ``RandomState`` for ``random_state`` (see the module docstring).

    An int below 2**32 seeds ``RandomState(seed)`` as scikit-learn's
    ``check_random_state`` does, so a seed gives the streams it always gave; a larger
    int seeds an MT19937 through numpy's ``SeedSequence``. A Generator or a
    BitGenerator is wrapped (its bit generator is shared and advanced).
    """
    rs = _check_random_state(random_state)
    if rs is None:
        return np.random.mtrand._rand  # numpy's global RandomState, as sklearn's check_random_state
    if isinstance(rs, np.random.RandomState):
        return rs
    if isinstance(rs, np.random.Generator):
        return np.random.RandomState(rs.bit_generator)
    if isinstance(rs, np.random.BitGenerator):
        return np.random.RandomState(rs)
    if isinstance(rs, np.random.SeedSequence) or rs >= 2**32:
        return np.random.RandomState(np.random.MT19937(rs))
    return np.random.RandomState(rs)


def generator(random_state: Any) -> np.random.Generator:
    """A ``Generator`` for ``random_state`` (see the module docstring).

    An int or a SeedSequence seeds ``np.random.default_rng`` (unchanged streams); a
    RandomState, including numpy's global one for ``None``, is wrapped (its bit
    generator is shared and advanced).
    """
    rs = _check_random_state(random_state)
    if rs is None:
        rs = np.random.mtrand._rand
    if isinstance(rs, np.random.RandomState):
        return np.random.Generator(rs._bit_generator)
    return np.random.default_rng(rs)


def clinical_score(latent: np.ndarray, noise_level: float, seed: int) -> np.ndarray:
    """A simulated clinical score: the latent variable ``latent`` (n,) plus independent
    standard normal noise times ``noise_level``, drawn from a generator seeded by
    ``[seed, 7]`` (so the score never shares draws with the data it comes with). With
    a unit-variance latent the best attainable correlation is
    ``1 / sqrt(1 + noise_level**2)``."""
    latent = np.asarray(latent, dtype=np.float64)
    return latent + noise_level * np.random.default_rng([seed, 7]).standard_normal(latent.shape[0])
