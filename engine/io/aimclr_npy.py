"""AimCLR / SMIE / PGFA skeleton tensors: ``<split>_position.npy`` ``(N, 3, T, 25, M)`` float32 with
``<split>_label.pkl`` beside it.

Format (docs/data_formats.md#item-3-aimclr-50-frame-tensors): built by ``Levigty/AimCLR`` (st-gcn
``tools/ntu_gendata.py``,
then ``feeder/preprocess_ntu.py``: joints relative to the spine-shoulder, resized to 50 frames,
rotated so the shoulders are parallel to x). The same layout is st-gcn's ``<split>_data.npy``. The
label file is a pickled ``(sample_names, labels)`` pair (0-based labels); SMIE's split folders store
labels as ``<split>_label.npy`` instead, which we read too.

Pickles can run code when loaded, so the label file is read by :class:`_LabelUnpickler`: plain
lists, tuples, strings and numbers load as usual; the few numpy globals that arrays and scalars of
names and labels use are answered by checked stand-ins that decode the raw bytes themselves (numpy's
own reconstruction is never handed bytes from the file); every other global (``os.system``,
``builtins.eval``, ``subprocess.Popen`` ...) is refused with a :class:`SkeletonFileError` before
anything runs.

Names in the NTU scheme (``S001C001P001R001A001``) give dataset, class name and subject/camera
metadata; AimCLR's PKU-MMD names (``F0002V001C003L001``: video, view, class, instance) give PKU-MMD
labels; otherwise the labels stay bare ids. Items are trimmed of trailing all-zero frames, and a
second body that is zeros throughout is dropped (``M = 1``).
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import re
from pathlib import Path
from typing import Any

import numpy as np

from engine.assets import class_names
from engine.errors import SkeletonFileError
from engine.io.base import (
    DAMAGED_DATA_ERRORS,
    NpyHeader,
    SkeletonCollection,
    SkeletonFormat,
    check_position_range,
    read_npy_header,
    register_format,
    require_file,
)
from engine.io.ctrgcn_npz import trim_padding
from engine.io.names import label_from_name
from engine.types import NUM_JOINTS, SkeletonSequence

FPS = 30.0  # the NTU / PKU-MMD source rate; AimCLR's 50-frame resize does not record the new rate

# AimCLR tools/pku_part1_skeleton.py names PKU-MMD instances F<video>V<view>C<class>L<instance>.
_PKU_NAME = re.compile(r"^F(\d{4})V(\d{3})C(\d{3})L(\d{3})$")
_PKU_VIEWS = {1: "L", 2: "M", 3: "R"}


# --- safe label loading ----------------------------------------------------------------------------


# numpy names its dtypes in pickles by kind and size: bool, integers, floats, fixed-size text, objects.
_DTYPE_NAME = re.compile(r"b1|[iu][1248]|f[248]|[US]\d{1,6}|O[48]")


class _Refused(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class _DType:
    """Stands in for ``numpy.dtype`` while unpickling: records what the pickle says and builds a real
    dtype only from a checked name and byte order, so numpy's C ``__setstate__`` never sees bytes
    from the file (fuzzed dtype states can leave numpy in a broken internal state)."""

    def __init__(self, name: Any, align: Any = False, copy: Any = True) -> None:
        if not isinstance(name, str) or not _DTYPE_NAME.fullmatch(name):
            raise _Refused(f"numpy.dtype({name!r})")
        self.name = name
        self.byteorder = "="

    def __setstate__(self, state: Any) -> None:
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags): only plain dtypes.
        if not (isinstance(state, tuple) and len(state) >= 5 and state[1] in ("<", ">", "|", "=")):
            raise _Refused("a numpy dtype state it does not know")
        if any(part is not None for part in state[2:5]):
            raise _Refused("a structured numpy dtype")
        self.byteorder = state[1]

    def numpy(self) -> np.dtype | None:
        """The dtype; None for object arrays (their items are pickled objects)."""
        if self.name[0] == "O":
            return None
        order = self.byteorder if self.byteorder in "<>" else ""
        return np.dtype(order + self.name)


class _NDArray:
    """Stands in for ``numpy.ndarray``: ``_reconstruct`` makes one, the pickle's BUILD fills it."""

    value: np.ndarray | list

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _DType)):
            raise _Refused("a numpy array state it does not know")
        _, shape, dtype, fortran, data = state
        self.value = _array(shape, dtype, data, "F" if fortran else "C")


def _array(shape: Any, dtype: Any, data: Any, order: Any) -> np.ndarray | list:
    """A 1-D or N-D array from checked parts; object arrays stay Python lists."""
    if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise _Refused("a numpy array of unknown shape")
    if not isinstance(dtype, _DType) or order not in ("C", "F"):
        raise _Refused("a numpy array of unknown type")
    count = int(np.prod(shape, dtype=np.int64))
    real = dtype.numpy()
    if real is None:
        if not isinstance(data, list) or len(data) != count:
            raise _Refused("a numpy object array that is not a list")
        return data
    if isinstance(data, pickle.PickleBuffer):  # protocol 5; copied, and the view released at once
        with data.raw() as view:
            data = bytes(view)
    elif isinstance(data, bytearray):
        data = bytes(data)
    if not isinstance(data, bytes) or len(data) != count * real.itemsize:
        raise pickle.UnpicklingError("numpy array data of the wrong size")
    return np.frombuffer(data, dtype=real).reshape(shape, order=order).copy()


def _scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, _DType):
        raise _Refused("a numpy scalar of unknown type")
    real = dtype.numpy()
    if real is None:
        return data
    if not isinstance(data, bytes) or len(data) != real.itemsize:
        raise pickle.UnpicklingError("numpy scalar data of the wrong size")
    return np.frombuffer(data, dtype=real)[0].item()


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> _NDArray:
    if cls is not _NDArray:
        raise _Refused("numpy._reconstruct of something other than an array")
    return _NDArray()


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray | list:
    return _array(shape, dtype, buffer, order)


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    # Protocol 2 pickles bytes as codecs.encode(str, "latin1"); no other codec is needed.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused(f"_codecs.encode(..., {encoding!r})")
    return text.encode("latin1")


# The globals that pickled lists/arrays of names and integer labels use, each mapped to a checked
# stand-in above (never the real numpy callable), and nothing else.
_ALLOWED: dict[tuple[str, str], Any] = {("numpy", "dtype"): _DType, ("numpy", "ndarray"): _NDArray}
for _core in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_core}.multiarray", "scalar")] = _scalar
    _ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = _reconstruct
    _ALLOWED[(f"{_core}.numeric", "_frombuffer")] = _frombuffer
_ALLOWED[("_codecs", "encode")] = _latin1


class _LabelUnpickler(pickle.Unpickler):
    """Unpickles only names and numbers: every global outside :data:`_ALLOWED` is refused."""

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise _Refused(f"{module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("a persistent id")


def _plain(obj: Any) -> Any:
    """The stand-ins replaced by what they stand for."""
    if isinstance(obj, _NDArray):
        if not hasattr(obj, "value"):
            raise _Refused("an empty numpy array stand-in")
        return obj.value
    if isinstance(obj, _DType):
        raise _Refused("a bare numpy dtype")
    return obj


def load_label_pickle(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """``(sample_names, labels)`` from an st-gcn / AimCLR label ``.pkl``, without running its code.

    Raises:
        SkeletonFileError: the file holds anything but a pair of names and integer labels, or a
            global other than the numpy constructors integer arrays need.
    """
    p = Path(path)
    require_file(p)
    try:
        data = p.read_bytes()
        # A pass over the opcodes first: it checks that every length field fits in the file, so a
        # damaged length cannot make the unpickler allocate gigabytes (or trip CPython's C unpickler
        # into a SystemError) before it notices the data is short.
        for _ in pickletools.genops(data):
            pass
        obj = _LabelUnpickler(io.BytesIO(data), encoding="latin1").load()
    except _Refused as exc:
        raise SkeletonFileError(
            p, f"refuses to unpickle {exc.what}: label files may only hold names and numbers"
        ) from None
    except RecursionError:
        raise SkeletonFileError(p, "label file is nested too deeply") from None
    except Exception as exc:  # noqa: BLE001  (damaged pickles raise EOFError, KeyError, struct.error ...)
        raise SkeletonFileError(p, f"is not a readable label pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, (tuple, list)) or len(obj) != 2:
        raise SkeletonFileError(p, "expected a (sample_names, labels) pair")
    try:
        names_obj, labels_obj = (_plain(part) for part in obj)
        names = [_plain(n) for n in names_obj]
        names = [n.decode("latin1") if isinstance(n, bytes) else n for n in names]
        labels = np.asarray([_plain(v) for v in labels_obj] if isinstance(labels_obj, list) else labels_obj)
    except _Refused as exc:
        raise SkeletonFileError(p, f"refuses {exc.what} in a label file") from None
    except (TypeError, ValueError) as exc:
        raise SkeletonFileError(p, f"expected a (sample_names, labels) pair ({exc})") from None
    if not all(isinstance(n, str) for n in names):
        raise SkeletonFileError(p, "sample names must be strings")
    return names, _check_labels(p, labels, len(names))


def _check_labels(path: Path, labels: np.ndarray, n: int) -> np.ndarray:
    if labels.ndim != 1 or len(labels) != n:
        raise SkeletonFileError(path, f"expected {n} labels in one list, found shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f" and np.isfinite(labels).all() and (labels == np.round(labels)).all():
            labels = labels.astype(np.int64)
        elif n:
            raise SkeletonFileError(path, f"labels must be whole numbers, found {labels.dtype}")
    labels = labels.astype(np.int64)
    if n and labels.min() < 0:
        raise SkeletonFileError(path, f"label {int(labels.min())} is negative (labels are 0-based class ids)")
    return labels


def find_label_file(path: str | os.PathLike) -> Path | None:
    """``train_position.npy`` -> ``train_label.pkl`` (or ``train_label.npy``, SMIE), if it exists."""
    p = Path(path)
    stem = p.name[: -len(".npy")] if p.name.lower().endswith(".npy") else p.stem
    prefixes = [stem[: -len(suffix)] for suffix in ("_position", "_data") if stem.endswith(suffix)] + [stem]
    for prefix in prefixes:
        for ext in (".pkl", ".npy"):
            candidate = p.with_name(f"{prefix}_label{ext}")
            if candidate.is_file() and candidate != p:
                return candidate
    return None


def load_labels(path: Path, n: int) -> tuple[list[str] | None, np.ndarray]:
    """Names (None for ``.npy`` labels) and labels of a label file, checked against ``n`` items."""
    require_file(path)
    if path.name.lower().endswith(".npy"):
        _checked_header(path, "label array")
        try:
            labels = np.load(path, allow_pickle=False)
        except DAMAGED_DATA_ERRORS as exc:
            raise SkeletonFileError(
                path, f"is not a readable label array ({type(exc).__name__}: {exc})"
            ) from None
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        return None, _check_labels(path, labels, n)
    names, labels = load_label_pickle(path)
    if len(names) != n:
        raise SkeletonFileError(path, f"holds {len(names)} samples for the {n} sequences of the data file")
    return names, labels


# --- the data file ---------------------------------------------------------------------------------


def _read_header(path: Path) -> NpyHeader:
    with open(path, "rb") as f:
        return read_npy_header(f)


def _checked_header(path: Path, what: str) -> NpyHeader:
    """The header of a ``.npy`` file, checked to account for the file's size exactly, so that
    loading it allocates no more than the file holds."""
    try:
        header = _read_header(path)
    except DAMAGED_DATA_ERRORS as exc:
        raise SkeletonFileError(path, f"is not a readable {what} ({type(exc).__name__}: {exc})") from None
    if header.dtype.hasobject:
        raise SkeletonFileError(
            path, f"holds Python objects ({header.dtype}), which are refused (they would need unpickling)"
        )
    size = path.stat().st_size
    if header.length + header.nbytes != size:
        cut = "truncated?" if size < header.length + header.nbytes else "extra bytes after the data"
        raise SkeletonFileError(
            path,
            f"holds {size - header.length:,} bytes of data, its header promises {header.nbytes:,} for "
            f"{header.shape} {header.dtype} ({cut})",
        )
    return header


def _is_aimclr_shape(shape: tuple[int, ...]) -> bool:
    return len(shape) == 5 and shape[1] == 3 and shape[3] == NUM_JOINTS


class _AimCLRFile:
    def __init__(self, path: Path, label_file: str | os.PathLike | None) -> None:
        self.path = path
        try:
            header = _read_header(path)
        except DAMAGED_DATA_ERRORS as exc:
            raise SkeletonFileError(
                path, f"is not a readable .npy file ({type(exc).__name__}: {exc})"
            ) from None
        shape, dtype = header.shape, header.dtype
        if not _is_aimclr_shape(shape):
            raise SkeletonFileError(path, f"array has shape {shape}, expected (N, 3, frames, 25, bodies)")
        if dtype.hasobject or dtype.kind not in "fiu":
            raise SkeletonFileError(path, f"array has dtype {dtype}, expected numbers")
        self.data = self._map(path, header)
        self.n = int(shape[0])
        label_path = Path(label_file) if label_file is not None else find_label_file(path)
        self.label_path = label_path
        self.names: list[str] | None = None
        self.labels: np.ndarray | None = None
        if label_path is not None:
            self.names, self.labels = load_labels(label_path, self.n)
        self._dataset: str | None | bool = False  # False: not worked out yet

    @staticmethod
    def _map(path: Path, header: NpyHeader) -> np.ndarray:
        """The array memory-mapped (the files reach gigabytes), after checking that the data its
        header promises are all in the file."""
        size = path.stat().st_size
        if header.length + header.nbytes > size:
            raise SkeletonFileError(
                path,
                f"holds {size - header.length:,} bytes of data, its header promises {header.nbytes:,} for "
                f"{header.shape} {header.dtype}; truncated?",
            )
        if header.nbytes == 0:
            return np.zeros(header.shape, dtype=header.dtype)
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except DAMAGED_DATA_ERRORS as exc:
            raise SkeletonFileError(
                path, f"cannot be read ({type(exc).__name__}: {exc}); truncated?"
            ) from None

    def dataset(self) -> str | None:
        """One dataset for the whole file, from the sample names (worked out on first use)."""
        if self._dataset is False:
            dataset = None
            if self.names:
                named = [label_from_name(n) for n in self.names]
                if all(x is not None and x.dataset.startswith("ntu") for x in named):
                    dataset = "ntu120" if any(x.dataset == "ntu120" for x in named) else "ntu60"
                elif all(_PKU_NAME.match(n) for n in self.names):
                    dataset = "pku51"
            self._dataset = dataset
        return self._dataset

    def item(self, index: int) -> SkeletonSequence:
        where = f"item {index}"
        x = np.asarray(self.data[index])  # (3, T, 25, M); checked before the cast to float32
        if not np.isfinite(x).all():
            c, t, v, m = np.argwhere(~np.isfinite(x))[0]
            raise SkeletonFileError(
                self.path,
                f"{'xyz'[c]} of joint {v + 1} of body {m + 1} in frame {t + 1} is {x[c, t, v, m]}, "
                "not finite",
                where,
            )
        check_position_range(self.path, x, where)
        joints = trim_padding(x.astype(np.float32).transpose(1, 3, 2, 0))
        if joints.shape[0] == 0:
            raise SkeletonFileError(self.path, "sample holds no body in any frame (all zeros)", where)
        name = self.names[index] if self.names else f"{self.path.stem}_{index:05d}"
        meta: dict[str, Any] = {"index": index, "padded_frames": int(x.shape[1])}
        dataset = self.dataset()
        label_id = int(self.labels[index]) if self.labels is not None else None
        if dataset and dataset.startswith("ntu"):
            named = label_from_name(name)
            meta.update(named.meta)
            if label_id is None:
                label_id = named.label_id
        elif dataset == "pku51":
            video, view, cls, instance = (int(g) for g in _PKU_NAME.match(name).groups())
            meta.update(video=f"{video:04d}-{_PKU_VIEWS.get(view, view)}", instance=instance)
            if label_id is None:
                label_id = cls - 1
        label = None
        if dataset is not None and label_id is not None:
            classes = class_names(dataset)
            label = classes[label_id] if label_id < len(classes) else None
        return SkeletonSequence(
            joints=np.array(joints),  # a copy, not a view into the memory map
            fps=FPS,
            source_format="aimclr_npy",
            source_layout="ntu25",
            name=name,
            path=str(self.path),
            label=label,
            label_id=label_id,
            dataset=dataset,
            meta=meta,
        )


def _open(path: Path, label_file: str | os.PathLike | None = None) -> SkeletonCollection:
    """Open an AimCLR ``.npy``; ``label_file`` overrides the sibling ``<split>_label.pkl``."""
    require_file(path)
    f = _AimCLRFile(path, label_file)
    info = {"frames": int(f.data.shape[2]), "label_file": str(f.label_path) if f.label_path else None}
    return SkeletonCollection(path, "aimclr_npy", f.n, f.item, info)


def sniff_aimclr_npy(path: Path) -> bool:
    """True when the ``.npy`` header says ``(N, 3, T, 25, M)`` (the array is not loaded)."""
    try:
        shape = _read_header(path).shape
    except DAMAGED_DATA_ERRORS:
        return False
    return _is_aimclr_shape(shape)


register_format(
    SkeletonFormat(
        name="aimclr_npy",
        description="AimCLR / st-gcn .npy (N, 3, T, 25, M) with <split>_label.pkl",
        suffixes=(".npy",),
        open=_open,
        sniff=sniff_aimclr_npy,
    )
)
