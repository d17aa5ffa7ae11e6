"""``Views``: named, sample-aligned data modalities with their prior networks."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import check_adjacency

__all__ = ["Views", "KINDS", "GRAPH_RULES"]

log = logging.getLogger(__name__)

#: Allowed modality kinds.
KINDS = ("genotype", "imaging", "expression", "other")

#: Prior graphs that are computed from the data on request (so that, on a training
#: subset, they only see training samples).
GRAPH_RULES = ("correlation", "ld")


def _as_frame(data: Any, name: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if sp.issparse(data):
        data = data.toarray()
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"modality {name!r}: expected a 2-D (n_samples, n_features) matrix, got shape {arr.shape}")
    return pd.DataFrame(arr)


class Views(Mapping):
    """An ordered mapping of named modalities sharing one sample index.

    ``views["snp"]`` is a DataFrame of shape (n_samples, n_features) with the sample IDs
    as index and the feature names as columns; every modality has the same index in the
    same order. Alignment by ID happens once, when a ``Views`` is built (e.g. by
    :func:`imaging_genetics.io.load_study`); everything after it trusts the alignment.

    Parameters
    ----------
    modalities : mapping name -> DataFrame (n_samples, p_name), or sequence of (name, DataFrame)
        Numeric data; NaN marks missing values (e.g. uncalled genotypes), infinity is
        an error. All indexes must be identical (same IDs, same order) and unique.
    kinds : mapping name -> {"genotype", "imaging", "expression", "other"}, optional
        Default ``"other"``.
    graphs : mapping name -> sparse (p_name, p_name) adjacency or "correlation" / "ld", optional
        Prior network per modality. A matrix is stored as CSR; the strings are rules
        evaluated by :meth:`graph` on the data of this ``Views`` (training folds see
        only their own samples).
    cross_adjacency : mapping (a, b) -> sparse (p_a, p_b), optional
        Cross-modality adjacencies (e.g. SNP-gene, ROI-SNP) for joint NMF.
    covariates, outcomes : DataFrame (n_samples, c), optional
        Indexed by the same sample IDs.
    feature_info : mapping name -> DataFrame (p_name, ...), optional
        Per-feature annotation, e.g. the ``.bim`` rows of a genotype modality (used by
        the ``"ld"`` rule for chromosome and position).
    alignment_report : DataFrame, optional
        How many samples each input file lost at alignment and why.

    Raises
    ------
    ValueError
        Misaligned or duplicated sample IDs, duplicated feature names, non-numeric or
        infinite data, unknown kinds, graphs of the wrong shape; each message names the
        modality.

    Examples
    --------
    >>> import numpy as np
    >>> v = Views.from_arrays({"snp": np.zeros((5, 3)), "fmri": np.ones((5, 2))},
    ...                       kinds={"snp": "genotype", "fmri": "imaging"})
    >>> v.names, v.n_samples, v["fmri"].shape
    (['snp', 'fmri'], 5, (5, 2))
    """

    def __init__(
        self,
        modalities: Mapping[str, Any] | Sequence[tuple[str, Any]],
        *,
        kinds: Mapping[str, str] | None = None,
        graphs: Mapping[str, Any] | None = None,
        cross_adjacency: Mapping[tuple[str, str], Any] | None = None,
        covariates: pd.DataFrame | None = None,
        outcomes: pd.DataFrame | None = None,
        feature_info: Mapping[str, pd.DataFrame] | None = None,
        alignment_report: pd.DataFrame | None = None,
    ) -> None:
        items = list(modalities.items()) if isinstance(modalities, Mapping) else list(modalities)
        if not items:
            raise ValueError("Views: needs at least one modality")
        self._data: dict[str, pd.DataFrame] = {}
        for name, data in items:
            name = str(name)
            if name in self._data:
                raise ValueError(f"Views: modality name {name!r} is used twice; names must be unique")
            self._data[name] = self._check_block(name, _as_frame(data, name))
        first = next(iter(self._data))
        index = self._data[first].index
        if index.has_duplicates:
            dup = index[index.duplicated()].unique()[:5].tolist()
            raise ValueError(f"modality {first!r}: duplicated sample IDs {dup}; IDs must be unique")
        for name, frame in self._data.items():
            self._check_index(frame.index, index, f"modality {name!r}", first)
        self._index = index

        kinds = dict(kinds or {})
        unknown = set(kinds) - set(self._data)
        if unknown:
            raise ValueError(f"kinds: unknown modality name(s) {sorted(unknown)}; modalities are {self.names}")
        self._kinds = {}
        for name in self._data:
            kind = kinds.get(name, "other")
            if kind not in KINDS:
                raise ValueError(f"modality {name!r}: unknown kind {kind!r}; use one of {list(KINDS)}")
            self._kinds[name] = kind

        self._graphs: dict[str, Any] = {}
        for name, graph in dict(graphs or {}).items():
            if name not in self._data:
                raise ValueError(f"graphs: unknown modality {name!r}; modalities are {self.names}")
            if graph is None:
                continue
            if isinstance(graph, str):
                if graph not in GRAPH_RULES:
                    raise ValueError(
                        f"graphs[{name!r}]: unknown rule {graph!r}; use one of {list(GRAPH_RULES)} "
                        "or a sparse adjacency matrix"
                    )
                self._graphs[name] = graph
            else:
                p = self._data[name].shape[1]
                self._graphs[name] = check_adjacency(graph, p, f"graphs[{name!r}]")

        self._cross: dict[tuple[str, str], sp.csr_matrix] = {}
        for key, mat in dict(cross_adjacency or {}).items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ValueError(f"cross_adjacency: keys must be (modality_a, modality_b) pairs, got {key!r}")
            a, b = (str(k) for k in key)
            for m in (a, b):
                if m not in self._data:
                    raise ValueError(f"cross_adjacency[{key!r}]: unknown modality {m!r}; modalities are {self.names}")
            if a == b:
                raise ValueError(f"cross_adjacency[{key!r}]: links a modality to itself; a within-modality "
                                 "network belongs in graphs")
            if (a, b) in self._cross or (b, a) in self._cross:
                raise ValueError(f"cross_adjacency: the pair ({a!r}, {b!r}) is given twice (in either order)")
            shape = (self._data[a].shape[1], self._data[b].shape[1])
            self._cross[(a, b)] = check_adjacency(mat, 0, f"cross_adjacency[({a!r}, {b!r})]", shape=shape)

        self.covariates = self._check_side(covariates, "covariates", first)
        self.outcomes = self._check_side(outcomes, "outcomes", first)
        self._feature_info = {}
        for name, info in dict(feature_info or {}).items():
            if name not in self._data:
                raise ValueError(f"feature_info: unknown modality {name!r}")
            if len(info) != self._data[name].shape[1]:
                raise ValueError(
                    f"feature_info[{name!r}]: has {len(info)} rows, modality has "
                    f"{self._data[name].shape[1]} features"
                )
            # rows are used by position (e.g. LD windows): they must follow the features
            for key in ("snp", "feature", "name"):
                if key in info.columns:
                    given = [str(v) for v in info[key]]
                    features = [str(c) for c in self._data[name].columns]
                    if given != features:
                        at = next(i for i, (a, b) in enumerate(zip(given, features)) if a != b)
                        raise ValueError(
                            f"feature_info[{name!r}]: its {key!r} column is not in the order of the "
                            f"modality's features (row {at}: {given[at]!r} vs {features[at]!r}); "
                            f"reorder it, e.g. info.set_index({key!r}).loc[features].reset_index()")
                    break
            self._feature_info[name] = info.reset_index(drop=True)
        self.alignment_report = alignment_report

    # ----------------------------------------------------------------- checks
    @staticmethod
    def _check_block(name: str, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.shape[0] == 0 or frame.shape[1] == 0:
            raise ValueError(f"modality {name!r}: empty matrix of shape {frame.shape}")
        cols = pd.Index([str(c) for c in frame.columns], name=frame.columns.name)
        if cols.has_duplicates:
            dup = cols[cols.duplicated()].unique()[:5].tolist()
            raise ValueError(f"modality {name!r}: duplicated feature names {dup}; make them unique")
        bad = [
            str(c) for c in frame.columns
            if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
        ]
        if bad:
            raise ValueError(
                f"modality {name!r}: non-numeric column(s) {bad[:5]}; encode them as numbers or drop them"
            )
        values = frame.to_numpy(dtype=np.float64)
        if np.isinf(values).any():
            cols_inf = cols[np.isinf(values).any(axis=0)][:5].tolist()
            raise ValueError(
                f"modality {name!r}: {int(np.isinf(values).sum())} infinite value(s) in column(s) "
                f"{cols_inf}; replace them (e.g. with NaN, then impute)"
            )
        index = pd.Index([str(i) for i in frame.index], name=frame.index.name or "sample", dtype=str)
        return pd.DataFrame(values, index=index, columns=cols, copy=False)

    @staticmethod
    def _check_index(index: pd.Index, reference: pd.Index, label: str, first: str) -> None:
        if index.equals(reference):
            return
        if len(index) == len(reference) and set(index) == set(reference):
            raise ValueError(
                f"{label}: same sample IDs as modality {first!r} but in a different order; "
                f"reorder it with .loc[views.sample_index] (or build the Views with load_study, "
                "which aligns samples by ID)"
            )
        only_here = index.difference(reference)[:5].tolist()
        only_there = reference.difference(index)[:5].tolist()
        raise ValueError(
            f"{label}: sample IDs differ from modality {first!r} ({len(index)} vs {len(reference)} "
            f"rows; e.g. only here: {only_here}, only in {first!r}: {only_there}); align the "
            "samples first (inner join on the IDs), e.g. with load_study"
        )

    def _check_side(self, frame: pd.DataFrame | None, label: str, first: str) -> pd.DataFrame | None:
        if frame is None:
            return None
        if isinstance(frame, pd.Series):
            frame = frame.to_frame()
        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(np.asarray(frame), index=self._index)
        frame = frame.copy()
        frame.index = pd.Index([str(i) for i in frame.index], name=self._index.name, dtype=str)
        self._check_index(frame.index, self._index, label, first)
        for col in frame.columns:
            if pd.api.types.is_numeric_dtype(frame[col]):
                inf = np.isinf(frame[col].to_numpy(dtype=np.float64))
                if inf.any():
                    raise ValueError(f"{label}: column {str(col)!r} has {int(inf.sum())} infinite value(s) (e.g. "
                                     f"sample {frame.index[np.flatnonzero(inf)[0]]!r}); replace them")
        return frame

    # ---------------------------------------------------------------- mapping
    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            return self._data[name]
        except KeyError:
            raise KeyError(f"no modality {name!r}; modalities are {self.names}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        """Same modalities (names, kinds, data, sample and feature names), covariates
        and outcomes. Graphs are not compared."""
        if not isinstance(other, Views):
            return NotImplemented
        if self.names != other.names or self._kinds != other._kinds:
            return False
        if not all(self._data[n].equals(other._data[n]) for n in self.names):
            return False
        for a, b in ((self.covariates, other.covariates), (self.outcomes, other.outcomes)):
            if (a is None) != (b is None) or (a is not None and not a.equals(b)):
                return False
        return True

    __hash__ = None  # mutable container

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}: {self._kinds[n]} {f.shape[1]}" for n, f in self._data.items())
        extra = []
        if self._graphs:
            extra.append(f"graphs={sorted(self._graphs)}")
        if self._cross:
            extra.append(f"cross={list(self._cross)}")
        if self.covariates is not None:
            extra.append(f"covariates={self.covariates.shape[1]}")
        if self.outcomes is not None:
            extra.append(f"outcomes={list(self.outcomes.columns)}")
        tail = (", " + ", ".join(extra)) if extra else ""
        return f"Views(n_samples={self.n_samples}; {parts}{tail})"

    # ------------------------------------------------------------- properties
    @property
    def names(self) -> list[str]:
        """Modality names in order."""
        return list(self._data)

    @property
    def n_samples(self) -> int:
        return len(self._index)

    @property
    def sample_index(self) -> pd.Index:
        """The shared sample IDs (strings), in order."""
        return self._index

    @property
    def n_features(self) -> dict[str, int]:
        return {n: f.shape[1] for n, f in self._data.items()}

    @property
    def kinds(self) -> dict[str, str]:
        return dict(self._kinds)

    def kind(self, name: str) -> str:
        self[name]
        return self._kinds[name]

    def feature_names(self, name: str) -> list[str]:
        return [str(c) for c in self[name].columns]

    def feature_info(self, name: str) -> pd.DataFrame | None:
        """Per-feature annotation (e.g. ``.bim`` rows) of a modality, or None."""
        self[name]
        return self._feature_info.get(name)

    @property
    def graphs(self) -> dict[str, Any]:
        """Prior graphs as given: sparse matrices or rule names (see :meth:`graph`)."""
        return dict(self._graphs)

    @property
    def cross_adjacency(self) -> dict[tuple[str, str], sp.csr_matrix]:
        return dict(self._cross)

    def graph(self, name: str, **options: Any) -> sp.csr_matrix | None:
        """The prior graph of one modality as a sparse (p, p) adjacency, or None.

        Rules are evaluated on this object's own samples: ``"correlation"`` calls
        :func:`imaging_genetics.networks.correlation_graph`, ``"ld"`` calls
        :func:`imaging_genetics.networks.ld_graph` with the ``.bim`` positions when
        known. ``options`` go to that function.
        """
        self[name]
        graph = self._graphs.get(name)
        if graph is None or sp.issparse(graph):
            return graph
        from .. import networks

        data = self._data[name]
        if graph == "correlation":
            X = data.to_numpy()
            if np.isnan(X).any():
                X = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
            return networks.correlation_graph(X, **options)
        info = self._feature_info.get(name)
        positions = info if info is not None and {"chrom", "pos"} <= set(info.columns) else None
        return networks.ld_graph(data.to_numpy(), positions=positions, **options)

    # ----------------------------------------------------------------- access
    def arrays(self, names: Sequence[str] | str | None = None) -> list[np.ndarray]:
        """The data as float arrays (n_samples, p_name), in the order of ``names``
        (default all modalities)."""
        if isinstance(names, str):
            names = [names]
        names = self.names if names is None else list(names)
        return [self[n].to_numpy(dtype=np.float64) for n in names]

    def subset(self, samples: Any) -> "Views":
        """A new ``Views`` restricted to some samples (e.g. one CV fold).

        Parameters
        ----------
        samples : integer positions, boolean mask of length n_samples, or sample IDs
            Rows to keep, in the order given. Graph matrices, cross adjacencies and
            feature annotations are shared (they are per feature); graph rules are
            re-evaluated on the subset.
        """
        pos = self._positions(samples)
        return Views(
            [(n, f.iloc[pos]) for n, f in self._data.items()],
            kinds=self._kinds,
            graphs=self._graphs,
            cross_adjacency=self._cross,
            covariates=None if self.covariates is None else self.covariates.iloc[pos],
            outcomes=None if self.outcomes is None else self.outcomes.iloc[pos],
            feature_info=self._feature_info,
            alignment_report=self.alignment_report,
        )

    def _positions(self, samples: Any) -> np.ndarray:
        if isinstance(samples, slice):
            return np.arange(self.n_samples)[samples]
        sel = np.asarray(samples)
        if sel.dtype == bool:
            if sel.shape != (self.n_samples,):
                raise ValueError(f"subset: boolean mask has shape {sel.shape}, expected ({self.n_samples},)")
            return np.flatnonzero(sel)
        if np.issubdtype(sel.dtype, np.integer):
            if sel.size and (sel.min() < -self.n_samples or sel.max() >= self.n_samples):
                raise ValueError(f"subset: sample position out of range 0..{self.n_samples - 1}")
            return sel.astype(np.int64)
        idx = self._index.get_indexer(sel.astype(str))
        if (idx < 0).any():
            raise ValueError(f"subset: unknown sample ID(s) {sel[idx < 0][:5].tolist()}")
        return idx

    # ----------------------------------------------------------- constructors
    @classmethod
    def from_arrays(
        cls,
        arrays: Mapping[str, Any] | Sequence[Any],
        *,
        names: Sequence[str] | None = None,
        kinds: Mapping[str, str] | Sequence[str] | None = None,
        sample_ids: Sequence[Any] | None = None,
        feature_names: Mapping[str, Sequence[Any]] | None = None,
        **kwargs: Any,
    ) -> "Views":
        """Build from plain arrays that are already aligned row by row.

        Parameters
        ----------
        arrays : mapping name -> array (n_samples, p_name), or a list of arrays
        names : list of str, optional
            Names for a list of arrays (default ``view0``, ``view1``, ...).
        kinds : mapping or list aligned with the arrays, optional
        sample_ids : sequence of length n_samples, optional
            Default ``"0"``, ``"1"``, ...
        feature_names : mapping name -> sequence of length p_name, optional
            Default ``{name}_0``, ``{name}_1``, ...
        **kwargs
            Passed to :class:`Views` (graphs, cross_adjacency, covariates, outcomes).
        """
        if isinstance(arrays, Mapping):
            items = [(str(k), v) for k, v in arrays.items()]
        else:
            arrays = list(arrays)
            if names is None:
                names = [f"view{i}" for i in range(len(arrays))]
            if len(names) != len(arrays):
                raise ValueError(f"names: got {len(names)} names for {len(arrays)} arrays")
            items = list(zip([str(n) for n in names], arrays))
        if kinds is not None and not isinstance(kinds, Mapping):
            kinds = list(kinds)
            if len(kinds) != len(items):
                raise ValueError(f"kinds: got {len(kinds)} kinds for {len(items)} arrays")
            kinds = {n: k for (n, _), k in zip(items, kinds)}
        frames = []
        n = None
        for name, arr in items:
            if sp.issparse(arr):
                arr = arr.toarray()
            a = np.asarray(arr, dtype=np.float64) if not isinstance(arr, pd.DataFrame) else arr.to_numpy(dtype=np.float64)
            if a.ndim != 2:
                raise ValueError(f"arrays[{name!r}]: expected 2-D (n_samples, n_features), got shape {a.shape}")
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                raise ValueError(
                    f"arrays[{name!r}]: has {a.shape[0]} rows but the first array has {n}; "
                    "all modalities need the same samples in the same order"
                )
            fn = (feature_names or {}).get(name)
            if fn is None:
                fn = list(arr.columns) if isinstance(arr, pd.DataFrame) else [f"{name}_{j}" for j in range(a.shape[1])]
            if len(fn) != a.shape[1]:
                raise ValueError(f"feature_names[{name!r}]: {len(fn)} names for {a.shape[1]} columns")
            frames.append((name, a, fn))
        ids = [str(i) for i in (sample_ids if sample_ids is not None else range(n))]
        if len(ids) != n:
            raise ValueError(f"sample_ids: {len(ids)} IDs for {n} rows")
        index = pd.Index(ids, name="sample", dtype=str)
        mods = [(name, pd.DataFrame(a, index=index, columns=[str(c) for c in fn])) for name, a, fn in frames]
        for key in ("covariates", "outcomes"):
            side = kwargs.get(key)
            if side is not None and not isinstance(side, (pd.DataFrame, pd.Series)):
                side = np.asarray(side, dtype=np.float64)
                side = side.reshape(-1, 1) if side.ndim == 1 else side
                kwargs[key] = pd.DataFrame(side, index=index, columns=[f"{key[:-1]}{j}" for j in range(side.shape[1])])
        return cls(mods, kinds=kinds, **kwargs)
