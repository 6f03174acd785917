"""PointSet: what a PINN trains on.

Interior points with positive weights; for each named condition its points and weights;
optionally per-point *targets* (solution values at interior points, for labelled sets) with
their own loss weight; and metadata (problem and parameters, method and config, budget, seed,
package version, where labels came from).

Files are ``.npz`` archives holding only numeric and unicode arrays plus a JSON metadata string,
read back with ``allow_pickle=False`` (:mod:`pinndd.npz`): a point set received from someone else
never runs code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import PinnddError
from .labels import DEFAULT_LABEL_WEIGHT, LabelRecord, Labels, TeacherRecord
from .npz import read_npz, write_npz

#: 2: a labelled set's :class:`~pinndd.labels.LabelRecord` is its own JSON array (``label_record``);
#: version 1 files are read with the record rebuilt from their metadata.
FORMAT_VERSION = 2

def _array(data: dict[str, np.ndarray], key: str, path, kinds: str, ndim: int | None = None) -> np.ndarray:
    """``data[key]`` checked to be of a dtype kind in ``kinds`` (numpy's letters) and ``ndim``."""
    if key not in data:
        raise PinnddError(f"{path} is not a pinndd point set (missing {key!r})")
    a = data[key]
    if a.dtype.kind not in kinds or (ndim is not None and a.ndim != ndim):
        raise PinnddError(f"{path}: {key!r} has dtype {a.dtype} and shape {a.shape}; not a pinndd point set "
                          "(or one damaged after writing)")
    return a


def _as_points(name: str, pts: Any, dim: int | None = None) -> np.ndarray:
    a = np.asarray(pts, dtype=np.float64)
    if a.ndim != 2 or len(a) == 0:
        raise PinnddError(f"{name}: points must be a non-empty array of shape (n, d); got shape {a.shape}")
    if dim is not None and a.shape[1] != dim:
        raise PinnddError(f"{name}: points have {a.shape[1]} coordinates, expected {dim}")
    if not np.all(np.isfinite(a)):
        raise PinnddError(f"{name}: points contain NaN or inf (row {int(np.argmax(~np.isfinite(a).all(axis=1)))}); "
                          "give finite coordinates inside the domain")
    return a


def _as_weights(name: str, w: Any, n: int) -> np.ndarray:
    if w is None:
        return np.ones(n)
    a = np.asarray(w, dtype=np.float64).reshape(-1)
    if a.shape != (n,):
        raise PinnddError(f"{name}: need one weight per point ({n}); got shape {np.shape(w)}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise PinnddError(f"{name}: weights must be positive and finite (drop a point rather than give it weight 0); "
                          f"got min {np.nanmin(a) if np.isfinite(a).any() else a[0]}")
    return a


@dataclass(eq=False)
class PointSet:
    """Points to train a PINN on.

    Parameters
    ----------
    interior:
        Interior (collocation) points, shape ``(n, d)``.
    interior_weights:
        Positive weights, shape ``(n,)``; default all ones. Loss terms are
        ``(1/n) sum_i w_i r_i^2``: weights averaging one keep a term's scale, and importance
        weights ``n / (N pi_i)`` make it an unbiased estimate of the dense mean.
    conditions:
        ``{condition name: (points (m, d), weights (m,) or None)}``.
    targets:
        Optional solution values at the interior points (a *labelled* set), shape ``(n,)``.
    target_weight:
        Weight of the data term ``(1/n) sum_i w_i (u(x_i) - y_i)^2`` in the loss (default
        :data:`pinndd.labels.DEFAULT_LABEL_WEIGHT`).
    metadata:
        JSON-serialisable description (problem, params, method, config, budget, seed,
        version, cost).
    label_record:
        For a labelled set, the parameters its labels hold for and the teacher that made them
        (:class:`pinndd.labels.LabelRecord`); ``None`` for labels given without one, which the
        trainer accepts only at the problem's nominal parameters. :attr:`labels` returns values,
        weight and record together.
    """

    interior: np.ndarray
    interior_weights: np.ndarray | None = None
    conditions: dict[str, tuple[np.ndarray, np.ndarray | None]] = field(default_factory=dict)
    targets: np.ndarray | None = None
    target_weight: float = DEFAULT_LABEL_WEIGHT
    metadata: dict[str, Any] = field(default_factory=dict)
    label_record: LabelRecord | None = None

    def __post_init__(self) -> None:
        self.interior = _as_points("interior", self.interior)
        d = self.interior.shape[1]
        self.interior_weights = _as_weights("interior", self.interior_weights, len(self.interior))
        conds = {}
        for name, value in dict(self.conditions).items():
            if isinstance(value, np.ndarray) or not isinstance(value, tuple | list):
                pts, w = value, None
            else:
                pts, w = value
            p = _as_points(f"condition {name!r}", pts, d)
            conds[name] = (p, _as_weights(f"condition {name!r}", w, len(p)))
        self.conditions = conds
        if self.targets is not None:
            t = np.asarray(self.targets, dtype=np.float64).reshape(-1)
            if t.shape != (len(self.interior),) or not np.all(np.isfinite(t)):
                raise PinnddError(f"targets need one finite value per interior point ({len(self.interior)}); got shape {t.shape}")
            self.targets = t
        if self.label_record is not None and self.targets is None:
            raise PinnddError("a label record needs labels: give targets, or drop the record (pointset.without_labels())")
        if self.label_record is not None and not isinstance(self.label_record, LabelRecord):
            raise PinnddError(f"label_record must be a pinndd.labels.LabelRecord; got {type(self.label_record).__name__}")
        if not (np.isfinite(self.target_weight) and self.target_weight > 0):
            raise PinnddError(f"target_weight must be positive and finite; got {self.target_weight}")
        try:
            json.dumps(self.metadata)
        except TypeError as e:
            raise PinnddError(f"metadata must be JSON-serialisable: {e}") from None

    # -- sizes --------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.interior.shape[1]

    @property
    def n_interior(self) -> int:
        return len(self.interior)

    @property
    def n_condition(self) -> int:
        return sum(len(p) for p, _ in self.conditions.values())

    @property
    def labelled(self) -> bool:
        return self.targets is not None

    @property
    def labels(self) -> Labels | None:
        """Values, weight and record of the labels in one object (``None`` when unlabelled)."""
        return None if self.targets is None else Labels(self.targets, self.target_weight, self.label_record)

    def __len__(self) -> int:
        return self.n_interior + self.n_condition

    def __repr__(self) -> str:
        conds = ", ".join(f"{k}={len(p)}" for k, (p, _) in self.conditions.items())
        lab = ", labelled" if self.labelled else ""
        return f"PointSet(interior={self.n_interior}, {conds}{lab}, method={self.metadata.get('method')!r})"

    # -- geometry -------------------------------------------------------------------------------
    def validate(self, problem) -> PointSet:
        """Check the set against ``problem``: the problem it was made for (metadata), dimension,
        interior points inside the domain, condition points on their condition's face, known
        condition names. Returns ``self``."""
        box = problem.domain
        made_for = self.metadata.get("problem")
        if made_for is not None and made_for != problem.name:
            raise PinnddError(
                f"this point set was made for problem {made_for!r}, not {problem.name!r} (conditions and domain differ); "
                f"make one for {problem.name!r} with a method's make(), or, if the problems really are the same, "
                "set pointset.metadata['problem'] to the new name")
        if self.dim != box.dim:
            raise PinnddError(f"point set is {self.dim}-d but problem {problem.name!r} is {box.dim}-d")
        outside = ~box.contains(self.interior)
        if outside.any():
            i = int(np.argmax(outside))
            raise PinnddError(
                f"{int(outside.sum())} interior point(s) lie outside the domain of {problem.name!r}, "
                f"e.g. {self.interior[i].tolist()}; domain is {list(zip(box.lower, box.upper))}"
            )
        for name, (pts, _) in self.conditions.items():
            cond = problem.condition(name)
            off = ~cond.face.contains(pts)
            if off.any():
                i = int(np.argmax(off))
                raise PinnddError(
                    f"{int(off.sum())} point(s) of condition {name!r} are not on its face {cond.face.label}, "
                    f"e.g. {pts[i].tolist()}"
                )
        return self

    def without_labels(self) -> PointSet:
        """The same points and weights with the targets dropped."""
        meta = {**self.metadata, "labels": None}
        meta.pop("labels_params", None)
        return PointSet(self.interior, self.interior_weights, self.conditions, None, DEFAULT_LABEL_WEIGHT, meta)

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` file (no pickled objects), atomically. Returns the path written."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        names = list(self.conditions)
        arrays: dict[str, np.ndarray] = {
            "format_version": np.array(FORMAT_VERSION),
            "metadata": np.array(json.dumps(self.metadata)),
            "interior": self.interior,
            "interior_weights": self.interior_weights,
            "condition_names": np.array(names, dtype=np.str_) if names else np.zeros(0, dtype="<U1"),
            "target_weight": np.array(self.target_weight),
        }
        for i, name in enumerate(names):
            arrays[f"condition_{i}_points"], arrays[f"condition_{i}_weights"] = self.conditions[name]
        if self.targets is not None:
            arrays["targets"] = self.targets
        if self.label_record is not None:
            arrays["label_record"] = np.array(json.dumps(self.label_record.to_dict()))
        if path.is_dir():
            raise PinnddError(f"cannot save the point set to {path}: it is a folder; give a file name")
        return write_npz(path, arrays)

    @classmethod
    def load(cls, path: str | Path, problem=None) -> PointSet:
        """Read a file written by :meth:`save`; validates it against ``problem`` when given.

        Raises :class:`PinnddError` for anything but an intact pinndd point set: a missing,
        truncated, corrupted or foreign file, pickled object arrays (never loaded), a format
        version this pinndd does not read, metadata that is not a JSON object, arrays of the
        wrong type or shape, and (with ``problem``) a set made for another problem.
        """
        path = Path(path)
        data = read_npz(path, "point set")
        version = _array(data, "format_version", path, "iu", 0)
        if not 1 <= int(version) <= FORMAT_VERSION:
            raise PinnddError(f"{path} has format version {int(version)}; this pinndd reads versions 1 to {FORMAT_VERSION}"
                              + (" (upgrade pinndd)" if int(version) > FORMAT_VERSION else ""))
        try:
            meta = json.loads(str(_array(data, "metadata", path, "U", 0)))
        except json.JSONDecodeError as e:
            raise PinnddError(f"{path}: its metadata is not valid JSON ({e})") from None
        if not isinstance(meta, dict):
            raise PinnddError(f"{path}: its metadata must be a JSON object; got a JSON {type(meta).__name__}")
        names = _array(data, "condition_names", path, "U", 1).tolist()
        conditions = {}
        for i, name in enumerate(names):
            conditions[str(name)] = (_array(data, f"condition_{i}_points", path, "fiu", 2),
                                     _array(data, f"condition_{i}_weights", path, "fiu", 1))
        targets = _array(data, "targets", path, "fiu", 1) if "targets" in data else None
        target_weight = _array(data, "target_weight", path, "fiu", 0) if "target_weight" in data else 1.0
        record = _label_record(data, meta, path) if targets is not None else None
        ps = cls(
            _array(data, "interior", path, "fiu", 2),
            _array(data, "interior_weights", path, "fiu", 1),
            conditions,
            targets,
            float(target_weight),
            meta,
            record,
        )
        return ps.validate(problem) if problem is not None else ps


def _label_record(data: dict[str, np.ndarray], meta: dict, path) -> LabelRecord | None:
    """The label record of a file: its own array (format 2), else rebuilt from a version-1
    file's metadata (``labels_params`` and the ``labels`` teacher description); ``None`` when
    the file has neither."""
    try:
        if "label_record" in data:
            return LabelRecord.from_dict(json.loads(str(_array(data, "label_record", path, "U", 0))))
        params = meta.get("labels_params")
        if params is None:
            return None
        info = meta.get("labels") or {}
        teacher = info.get("teacher") if isinstance(info.get("teacher"), dict) else info
        kind = "learned" if info.get("source") == "learned" else "teacher"
        rec = {"source": teacher.get("source", "unknown"), "problem": teacher.get("problem", meta.get("problem", "")),
               "params": teacher.get("params", params), "cost_seconds": teacher.get("cost_seconds", 0.0),
               "settings": {k: teacher[k] for k in ("dense", "method", "seed", "config", "candidates") if k in teacher}}
        if rec["source"] == "dense-pinn":
            rec["settings"].setdefault("candidates", 1)
        return LabelRecord(params, kind, TeacherRecord.from_dict(rec))
    except (json.JSONDecodeError, TypeError, ValueError, AttributeError) as e:
        raise PinnddError(f"{path}: its label record is damaged ({type(e).__name__}: {e})") from None

