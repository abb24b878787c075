"""The immutable half of the model registry: storing, hash-verifying and loading versioned model artifacts.

Layout under ``root`` (``Settings.model_dir``)::

    <lender_id>/<version>/model.txt             LightGBM model (text format)
                         calibrator.json        Platt calibration of the raw score
                         reason_catalogue.yaml  frozen copy of the catalogue the model was released with
                         report.json/.html      validation report (optional extra files)
                         metadata.json          lender, version, model_id, features, window, metrics, thresholds,
                                                shap_reference, files (sha256 each), artifact_sha256, created_at

Why a module of its own: a version folder is written once and never changes, while the deployment state next to it
(:mod:`decision_service.registry`: champion/challenger pointers, gate records, the deployments log) changes with every
promotion. Keeping the write-once side here means nothing in this module ever rewrites a file, so the guarantee "a
decision logged with model_version X is reproducible from X forever" can be checked by reading one short module.

Why immutable + hashed: a version folder is written to a temporary folder and renamed into place (no half
artifacts), made read-only, and the first load in a process checks the sha256 of every file against the metadata.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decision_service.model import LoadedModel, Thresholds
from decision_service.model_errors import (
    ArtifactIntegrityError,
    MetadataError,
    ModelVersionExistsError,
    UnknownModelError,
)

__all__ = ["CORE_FILES", "REQUIRED_METADATA", "ModelArtifact", "ModelStore", "utc_now_iso"]

REQUIRED_METADATA = ("lender_id", "feature_names", "training_window", "metrics", "thresholds", "shap_reference")
CORE_FILES = ("model.txt", "calibrator.json", "reason_catalogue.yaml")


@dataclass
class ModelArtifact:
    """What training hands to ``register``: the model, its calibrator and any extra files (reports)."""

    model_text: str
    calibrator: dict[str, Any]
    catalogue_text: str
    extra_files: dict[str, str] = field(default_factory=dict)

    def files(self) -> dict[str, bytes]:
        out = {
            "model.txt": self.model_text.encode(),
            "calibrator.json": json.dumps(self.calibrator, sort_keys=True, indent=1).encode(),
            "reason_catalogue.yaml": self.catalogue_text.encode(),
        }
        for name, text in self.extra_files.items():
            if name in out or name == "metadata.json" or "/" in name:
                raise MetadataError(f"extra file name {name!r} is reserved or not a plain file name")
            out[name] = text.encode()
        return out


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _artifact_sha(file_hashes: Mapping[str, str]) -> str:
    return _sha("\n".join(f"{k}:{file_hashes[k]}" for k in sorted(file_hashes)).encode())


def utc_now_iso() -> str:
    """Naive-UTC ISO timestamp (microseconds) used for ``created_at`` and ``deployed_at``, so both sort together."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


class ModelStore:
    """Write-once store of versioned model folders: register, list, verify and load (with a per-process cache).

    :class:`decision_service.registry.ModelRegistry` extends it with the deployment state; use that class, not
    this one, unless only immutable versions are needed.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._models: dict[tuple[str, str, tuple[float, float] | None], LoadedModel] = {}

    # ----- paths and locking -------------------------------------------------------------------------------------
    def _lender_dir(self, lender_id: str) -> Path:
        if not lender_id or "/" in lender_id or lender_id.startswith("."):
            raise UnknownModelError(f"invalid lender id {lender_id!r}")
        return self.root / lender_id

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Cross-process lock around every registration and pointer/log change, so two CLIs cannot interleave."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ----- registration ------------------------------------------------------------------------------------------
    def versions(self, lender_id: str) -> list[str]:
        d = self._lender_dir(lender_id)
        if not d.is_dir():
            return []
        return sorted(p.name for p in d.iterdir() if p.is_dir() and (p / "metadata.json").exists())

    def lenders(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def register(self, artifact: ModelArtifact, metadata: Mapping[str, Any]) -> str:
        """Store a new immutable version and return its version string (``metadata['version']`` or the next vNNN)."""
        missing = [k for k in REQUIRED_METADATA if k not in metadata]
        if missing:
            raise MetadataError(f"metadata lacks {missing}")
        lender_id = str(metadata["lender_id"])
        ldir = self._lender_dir(lender_id)
        files = artifact.files()
        with self._locked():
            ldir.mkdir(parents=True, exist_ok=True)
            existing = self.versions(lender_id)
            version = str(metadata.get("version") or f"v{len(existing) + 1:03d}")
            final = ldir / version
            if final.exists():
                raise ModelVersionExistsError(f"{lender_id}/{version} is already registered and cannot be overwritten")
            hashes = {name: _sha(data) for name, data in files.items()}
            sha = _artifact_sha(hashes)
            meta = dict(metadata)
            meta["thresholds"] = Thresholds.coerce(meta["thresholds"]).to_dict()
            meta.update(
                version=version,
                model_id=f"{lender_id}-{version}-{sha[:8]}",
                files=hashes,
                artifact_sha256=sha,
                created_at=meta.get("created_at") or utc_now_iso(),
            )
            tmp = Path(tempfile.mkdtemp(dir=ldir, prefix=f".{version}."))
            try:
                for name, data in files.items():
                    (tmp / name).write_bytes(data)
                (tmp / "metadata.json").write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
                for p in tmp.iterdir():
                    p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                os.rename(tmp, final)  # atomic; fails if final appeared meanwhile
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return version

    def metadata(self, lender_id: str, version: str) -> dict[str, Any]:
        path = self._lender_dir(lender_id) / version / "metadata.json"
        if not path.exists():
            raise UnknownModelError(f"no model {lender_id}/{version} in {self.root}")
        return json.loads(path.read_text())

    def verify(self, lender_id: str, version: str) -> dict[str, Any]:
        """Check every file's sha256 against the metadata; return the metadata or raise ArtifactIntegrityError."""
        meta = self.metadata(lender_id, version)
        vdir = self._lender_dir(lender_id) / version
        actual = {}
        for name, expected in meta["files"].items():
            p = vdir / name
            got = _sha(p.read_bytes()) if p.exists() else "<missing>"
            if got != expected:
                raise ArtifactIntegrityError(
                    f"{lender_id}/{version}/{name}: sha256 {got[:12]} != recorded {expected[:12]}"
                )
            actual[name] = got
        if _artifact_sha(actual) != meta["artifact_sha256"]:
            raise ArtifactIntegrityError(f"{lender_id}/{version}: artifact sha256 does not match its metadata")
        return meta

    def load(
        self, lender_id: str, version: str, thresholds: Thresholds | Mapping[str, float] | None = None
    ) -> LoadedModel:
        """Load a version (hash-verified on first load, then cached: folders are immutable and read-only).

        ``thresholds`` overrides the cut-offs it was registered with (a deployment's recalibrated ones).
        """
        base = self._models.get((lender_id, version, None))
        if base is None:
            meta = self.verify(lender_id, version)
            base = LoadedModel.from_dir(self._lender_dir(lender_id) / version, meta)
            self._models[(lender_id, version, None)] = base
        if thresholds is None:
            return base
        th = Thresholds.coerce(thresholds)
        if th == base.thresholds:
            return base
        key = (lender_id, version, (th.approve_below, th.refer_below))
        model = self._models.get(key)
        if model is None:
            model = self._models[key] = base.with_thresholds(th)
        return model
