"""Model persistence without pickle.

Every estimator in the package inherits :class:`PersistenceMixin`, which gives it
``save(path)``; :func:`load` reads the file back into an equal model.

The file is a single ``.npz`` archive (a zip of ``.npy`` arrays). Its entry
``__metadata__`` holds a JSON document with the estimator's class, its
``get_params()``, the fitted attributes (scalars inline, arrays by reference to
other entries of the archive), the package version and the file format version.
Nothing is pickled, so loading a file can never execute code.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "PersistenceMixin",
    "load",
    "save_bundle",
    "load_bundle",
    "atomic_write_bytes",
    "FORMAT_VERSION",
    "IncompatibleModelFileError",
]

#: Version of the on-disk layout. Bump when a change makes old readers wrong.
FORMAT_VERSION = 1

_META_KEY = "__metadata__"


class IncompatibleModelFileError(ValueError):
    """A model file was written by an incompatible version or is not a model file."""


def _package_version() -> str:
    from imaging_genetics import __version__

    return __version__


class _Encoder:
    """Turn nested Python/numpy values into JSON plus named arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, array: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        if array.dtype == object:
            if all(isinstance(v, str) for v in array.ravel()):
                array = array.astype(str)
            else:
                raise TypeError("object arrays cannot be saved without pickle")
        self.arrays[key] = array
        return key

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, (float, np.floating)):
            v = float(value)
            if np.isfinite(v):
                return v
            return {"__float__": repr(v)}
        if isinstance(value, np.ndarray):
            return {"__ndarray__": self._store(value)}
        if sp.issparse(value):
            csr = sp.csr_matrix(value)
            return {
                "__csr__": [
                    self._store(csr.data),
                    self._store(csr.indices),
                    self._store(csr.indptr),
                ],
                "shape": list(csr.shape),
            }
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v) for v in value]}
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        # a random_state given as a generator: its current state, so the loaded model
        # holds a generator that continues the same stream
        if isinstance(value, np.random.Generator):
            return {"__generator__": self.encode(value.bit_generator.state)}
        if isinstance(value, np.random.RandomState):
            return {"__randomstate__": self.encode(value.get_state(legacy=False))}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {"__dict__": {k: self.encode(v) for k, v in value.items()}}
            return {"__items__": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        try:
            import pandas as pd

            if isinstance(value, pd.DataFrame):
                return {
                    "__dataframe__": {
                        "columns": [self.encode(c) for c in value.columns],
                        "index": [self.encode(i) for i in value.index],
                        "data": {
                            str(i): self.encode(value.iloc[:, i].to_numpy())
                            for i in range(value.shape[1])
                        },
                    }
                }
        except ImportError:  # pragma: no cover - pandas is a dependency
            pass
        raise TypeError(f"cannot save a value of type {type(value).__name__}")


#: Bit generators a saved random_state may name (no other name is looked up).
_BIT_GENERATORS = ("MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64")


def _bit_generator(state: dict) -> np.random.BitGenerator:
    name = state.get("bit_generator")
    if name not in _BIT_GENERATORS:
        raise IncompatibleModelFileError(f"unknown random generator {name!r} in the file")
    bg = getattr(np.random, name)()
    bg.state = state
    return bg


class _Decoder:
    def __init__(self, arrays: Any) -> None:
        self.arrays = arrays

    def decode(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "__ndarray__" in value:
            return np.array(self.arrays[value["__ndarray__"]])
        if "__float__" in value:
            return float(value["__float__"])
        if "__csr__" in value:
            data, indices, indptr = (np.array(self.arrays[k]) for k in value["__csr__"])
            return sp.csr_matrix((data, indices, indptr), shape=tuple(value["shape"]))
        if "__tuple__" in value:
            return tuple(self.decode(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: self.decode(v) for k, v in value["__dict__"].items()}
        if "__generator__" in value:
            return np.random.Generator(_bit_generator(self.decode(value["__generator__"])))
        if "__randomstate__" in value:
            rs = np.random.RandomState()
            rs.set_state(self.decode(value["__randomstate__"]))
            return rs
        if "__items__" in value:
            return {_hashable(self.decode(k)): self.decode(v) for k, v in value["__items__"]}
        if "__dataframe__" in value:
            import pandas as pd

            d = value["__dataframe__"]
            columns = [self.decode(c) for c in d["columns"]]
            data = {i: self.decode(d["data"][str(i)]) for i in range(len(columns))}
            frame = pd.DataFrame(data, index=[self.decode(i) for i in d["index"]])
            frame.columns = columns
            return frame
        raise IncompatibleModelFileError(f"unknown entry in model file: {sorted(value)}")


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _new_file_mode(path: Path) -> int:
    """Permissions for a file replacing ``path``: its own, or what ``open`` would give."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON values: NumPy scalars and arrays as Python numbers and
    lists, NaN and infinities as None (JSON has no NaN), anything else as text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bool, int, str)):
        return value
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(value)


def write_json(path: str | os.PathLike, value: Any) -> Path:
    """Write ``value`` (see :func:`json_safe`) as indented, strictly valid JSON, atomically."""
    document = json.dumps(json_safe(value), indent=2, allow_nan=False).encode("utf-8")
    return atomic_write_bytes(path, lambda fh: fh.write(document))


def atomic_write_bytes(path: str | os.PathLike, write) -> Path:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, then rename it.

    A killed process therefore never leaves a half-written ``path`` behind. The
    file gets the permissions a plain ``open(path, "wb")`` would give it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_bundle(path: str | os.PathLike, values: dict[str, Any]) -> Path:
    """Save a nested dict of arrays, sparse matrices, tables and scalars to one ``.npz``.

    The same pickle-free layout as model files; read back with :func:`load_bundle`.
    Used for simulation ground truth and results that are not estimators.
    """
    path = Path(path)
    enc = _Encoder()
    meta = {
        "format_version": FORMAT_VERSION,
        "package_version": _package_version(),
        "bundle": enc.encode(dict(values)),
    }
    arrays = dict(enc.arrays)
    arrays[_META_KEY] = np.array(json.dumps(meta))
    return atomic_write_bytes(path, lambda fh: np.savez(fh, **arrays))


def load_bundle(path: str | os.PathLike) -> dict[str, Any]:
    """Read a file written by :func:`save_bundle`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"bundle file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _META_KEY not in archive.files:
                raise IncompatibleModelFileError(f"{path} was not written by save_bundle()")
            meta = json.loads(str(archive[_META_KEY]))
            if not isinstance(meta, dict) or "bundle" not in meta:
                raise IncompatibleModelFileError(f"{path} is a model file: use imaging_genetics.load()")
            return _Decoder(archive).decode(meta["bundle"])
    except IncompatibleModelFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError, TypeError,
            AttributeError, NotImplementedError) as exc:
        raise IncompatibleModelFileError(
            f"{path} is damaged or not a bundle of imaging-genetics ({type(exc).__name__}: {exc}); "
            "write it again or re-copy the file"
        ) from exc


class PersistenceMixin:
    """Adds ``save(path)`` to an estimator; read back with :func:`imaging_genetics.load`."""

    def _fitted_attributes(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in vars(self).items()
            if k.endswith("_") and not k.startswith("_")
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the estimator (parameters and fitted state) to ``path`` (``.npz``).

        Parameters
        ----------
        path : str or path-like
            Destination file; ``.npz`` is appended when missing. The write is
            atomic: a killed process leaves either the old file or the new one.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz")
        enc = _Encoder()
        cls = type(self)
        try:
            params = enc.encode(self.get_params(deep=False))
            fitted = enc.encode(self._fitted_attributes())
        except TypeError as exc:
            raise TypeError(f"{cls.__name__}.save: {exc}") from exc
        meta = {
            "format_version": FORMAT_VERSION,
            "package_version": _package_version(),
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "params": params,
            "fitted": fitted,
        }
        arrays = dict(enc.arrays)
        arrays[_META_KEY] = np.array(json.dumps(meta))
        return atomic_write_bytes(path, lambda fh: np.savez(fh, **arrays))


def load(path: str | os.PathLike, *, trusted_modules: tuple[str, ...] = ()):
    """Load an estimator written by ``save``.

    Parameters
    ----------
    path : str or path-like
        A ``.npz`` file written by ``estimator.save``.
    trusted_modules : tuple of str
        Only classes from ``imaging_genetics`` are instantiated, so a crafted file
        cannot make ``load`` import arbitrary code; name further modules here to
        load your own estimator subclasses.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    IncompatibleModelFileError
        The file is not a model file, or was written with a newer file format.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        return _load(path, trusted_modules)
    except IncompatibleModelFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError, TypeError,
            AttributeError, NotImplementedError) as exc:
        # A damaged archive (truncated copy, flipped bits) or edited metadata.
        raise IncompatibleModelFileError(
            f"{path} is damaged or not a model file of imaging-genetics "
            f"({type(exc).__name__}: {exc}); save the model again or re-copy the file"
        ) from exc


def _load(path: Path, trusted_modules: tuple[str, ...]):
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile/ValueError on corrupt input
        raise IncompatibleModelFileError(f"{path} is not a readable model file: {exc}") from exc
    with archive:
        if not hasattr(archive, "files") or _META_KEY not in archive.files:
            raise IncompatibleModelFileError(
                f"{path} has no {_META_KEY} entry: it was not written by imaging-genetics' save()"
            )
        meta = json.loads(str(archive[_META_KEY]))
        if not isinstance(meta, dict):
            raise IncompatibleModelFileError(f"{path}: the {_META_KEY} entry is not a JSON object")
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
            advice = ("Upgrade imaging-genetics to load it." if isinstance(version, int) and version > FORMAT_VERSION
                      else "The file is damaged or was not written by imaging-genetics.")
            raise IncompatibleModelFileError(
                f"{path} uses model file format {version!r} (written by imaging-genetics "
                f"{meta.get('package_version')}); this installation ({_package_version()}) "
                f"reads formats 1..{FORMAT_VERSION}. {advice}"
            )
        if "bundle" in meta:
            raise IncompatibleModelFileError(f"{path} is a bundle: read it with load_bundle()")
        module_name, _, class_name = str(meta["class"]).rpartition(".")
        allowed = ("imaging_genetics", *trusted_modules)
        if not any(module_name == m or module_name.startswith(m + ".") for m in allowed):
            raise IncompatibleModelFileError(f"{path}: refusing to load class {meta['class']}")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise IncompatibleModelFileError(
                f"{path}: class {meta['class']} does not exist in this version"
            ) from exc
        dec = _Decoder(archive)
        params = dec.decode(meta["params"])
        fitted = dec.decode(meta["fitted"])
    try:
        model = cls(**params)
    except TypeError as exc:
        raise IncompatibleModelFileError(
            f"{path}: its parameters do not fit {cls.__name__} of this version ({exc})"
        ) from exc
    for key, value in fitted.items():
        setattr(model, key, value)
    return model
