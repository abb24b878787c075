"""The model registry: immutable versioned artifacts, champion/challenger pointers and a deployments log.

Layout under ``root`` (``Settings.model_dir``)::

    <lender_id>/<version>/model.txt             LightGBM model (text format)
                         calibrator.json        Platt calibration of the raw score
                         reason_catalogue.yaml  frozen copy of the catalogue the model was released with
                         report.json/.html      validation report (optional extra files)
                         metadata.json          lender, version, model_id, features, window, metrics, thresholds,
                                                shap_reference, files (sha256 each), artifact_sha256, created_at
    <lender_id>/deployment.json                 champion / challenger / history pointers (atomic replace)
    <lender_id>/gates/<version>.json            latest deployment-gate result of that version
    deployments.jsonl                           every deployment event, the source of ``model_deployments`` rows

Why immutable + hashed: a decision logged with model_version X must be reproducible from X forever. A version folder
is written to a temporary folder and renamed into place (no half artifacts), made read-only, and the first load in
a process checks the sha256 of every file against the metadata. Thresholds, however, are a property of a
*deployment* (the gate may recalibrate them when a candidate is promoted), so they live
in the pointer file, not in the frozen folder.

``LoadedModel`` and ``Thresholds`` live in :mod:`decision_service.model` and the errors in
:mod:`decision_service.model_errors`; both are re-exported here, as the shared contract names this module for them.
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
    GateNotPassedError,
    MetadataError,
    ModelVersionExistsError,
    NoChampionError,
    NothingToRollBackError,
    RegistryError,
    ThresholdsError,
    UnknownModelError,
)

__all__ = [
    "ArtifactIntegrityError",
    "GateNotPassedError",
    "LoadedModel",
    "MetadataError",
    "ModelArtifact",
    "ModelRegistry",
    "ModelVersionExistsError",
    "NoChampionError",
    "NothingToRollBackError",
    "RegistryError",
    "Thresholds",
    "ThresholdsError",
    "UnknownModelError",
]

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


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _write_atomic(path: Path, data: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ModelRegistry:
    """File-system model registry shared by training, the gate, the backfill and the API (see module docstring)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._models: dict[tuple[str, str, tuple[float, float] | None], LoadedModel] = {}
        self._state: dict[str, dict[str, Any]] = {}
        self._stamp: dict[str, tuple[int, int]] = {}
        self.reload()

    # ----- paths and locking -------------------------------------------------------------------------------------
    def _lender_dir(self, lender_id: str) -> Path:
        if not lender_id or "/" in lender_id or lender_id.startswith("."):
            raise UnknownModelError(f"invalid lender id {lender_id!r}")
        return self.root / lender_id

    def _pointer(self, lender_id: str) -> Path:
        return self._lender_dir(lender_id) / "deployment.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Cross-process lock around every pointer/log change, so two CLIs cannot interleave a promotion."""
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
                created_at=meta.get("created_at") or _now(),
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

    # ----- deployment state --------------------------------------------------------------------------------------
    def _read_state(self, lender_id: str) -> dict[str, Any]:
        p = self._pointer(lender_id)
        if not p.exists():
            return {"champion": None, "challenger": None, "history": []}
        return json.loads(p.read_text())

    def reload(self) -> bool:
        """Re-read pointer files whose inode/mtime changed (cheap: one stat per lender). True if anything changed."""
        changed = False
        for lender_id in self.lenders():
            p = self._pointer(lender_id)
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            stamp = (st.st_ino, st.st_mtime_ns)
            if self._stamp.get(lender_id) != stamp:
                self._state[lender_id] = json.loads(p.read_text())
                self._stamp[lender_id] = stamp
                changed = True
        return changed

    def _deployed(self, lender_id: str, role: str) -> LoadedModel | None:
        entry = self._state.get(lender_id, {}).get(role)
        if entry is None:
            return None
        return self.load(lender_id, entry["version"], entry["thresholds"])

    def champion(self, lender_id: str) -> LoadedModel:
        """The lender's deciding model with the thresholds in force (call ``reload()`` to pick up promotions)."""
        model = self._deployed(lender_id, "champion")
        if model is None:
            raise NoChampionError(f"lender {lender_id} has no champion model in {self.root}")
        return model

    def challenger(self, lender_id: str) -> LoadedModel | None:
        """The shadow model (scored and logged, never deciding), if any."""
        return self._deployed(lender_id, "challenger")

    def deployment_state(self, lender_id: str) -> dict[str, Any]:
        return json.loads(json.dumps(self._read_state(lender_id)))

    def _log(self, event: Mapping[str, Any]) -> None:
        with open(self.root / "deployments.jsonl", "a") as f:
            f.write(json.dumps(event, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _commit(self, lender_id: str, state: dict[str, Any], events: list[dict[str, Any]]) -> None:
        _write_atomic(self._pointer(lender_id), json.dumps(state, indent=1, sort_keys=True))
        for e in events:
            self._log(e)
        self.reload()

    @staticmethod
    def _event(lender_id: str, entry: Mapping[str, Any], gate_result: str, role: str) -> dict[str, Any]:
        return {
            "lender_id": lender_id,
            "model_version": entry["version"],
            "deployed_at": entry["deployed_at"],
            "thresholds": entry["thresholds"],
            "gate_result": gate_result,
            "role": role,
            "policy_version": entry.get("policy_version"),
        }

    # ----- gate records ------------------------------------------------------------------------------------------
    def record_gate(self, lender_id: str, version: str, result: Mapping[str, Any]) -> None:
        """Store the latest gate result of a version (``passed``: bool, ``thresholds``: recalibrated cut-offs)."""
        self.metadata(lender_id, version)
        gdir = self._lender_dir(lender_id) / "gates"
        gdir.mkdir(parents=True, exist_ok=True)
        _write_atomic(gdir / f"{version}.json", json.dumps(dict(result), indent=1, sort_keys=True, default=str))

    def gate_record(self, lender_id: str, version: str) -> dict[str, Any] | None:
        p = self._lender_dir(lender_id) / "gates" / f"{version}.json"
        return json.loads(p.read_text()) if p.exists() else None

    # ----- promote / rollback / shadow ---------------------------------------------------------------------------
    def promote(
        self,
        lender_id: str,
        version: str,
        *,
        force: bool = False,
        thresholds: Thresholds | Mapping[str, float] | None = None,
        policy_version: str | None = None,
    ) -> dict[str, Any]:
        """Make ``version`` the champion. With a champion in place it needs a passing gate record unless forced.

        Thresholds: explicit argument, else the gate's recalibrated ones, else those registered with the model.
        Returns the deployment event written to the log.
        """
        meta = self.verify(lender_id, version)
        with self._locked():
            state = self._read_state(lender_id)
            current = state.get("champion")
            gate = self.gate_record(lender_id, version)
            if current is None:
                gate_result = "passed"  # first deployment: nothing to compare against
            elif gate is not None and gate.get("passed"):
                gate_result = "passed"
            elif force:
                gate_result = "forced"
            else:
                why = "failed the deployment gate" if gate else "has not been through the deployment gate"
                raise GateNotPassedError(f"{lender_id}/{version} {why}; run the gate or promote with force")
            if thresholds is None:
                thresholds = (gate or {}).get("thresholds") or meta["thresholds"]
            entry = {
                "version": version,
                "thresholds": Thresholds.coerce(thresholds).to_dict(),
                "deployed_at": _now(),
                "policy_version": policy_version,
            }
            events = []
            if current is not None:
                state["history"].append(current)
                events.append(self._event(lender_id, {**current, "deployed_at": entry["deployed_at"]}, gate_result,
                                          "retired"))
            if state.get("challenger") and state["challenger"]["version"] == version:
                state["challenger"] = None
            state["champion"] = entry
            events.append(self._event(lender_id, entry, gate_result, "champion"))
            self._commit(lender_id, state, events)
        return events[-1]

    def rollback(self, lender_id: str, *, policy_version: str | None = None) -> dict[str, Any]:
        """Re-instate the previous champion (with the thresholds it had); the current one is retired."""
        with self._locked():
            state = self._read_state(lender_id)
            if not state.get("history"):
                raise NothingToRollBackError(f"lender {lender_id} has no previous champion to roll back to")
            previous = state["history"].pop()
            self.verify(lender_id, previous["version"])
            now = _now()
            current = state["champion"]
            entry = {**previous, "deployed_at": now, "policy_version": policy_version or previous.get("policy_version")}
            state["champion"] = entry
            events = [
                self._event(lender_id, {**current, "deployed_at": now}, "rollback", "retired"),
                self._event(lender_id, entry, "rollback", "champion"),
            ]
            self._commit(lender_id, state, events)
        return events[-1]

    def set_challenger(
        self,
        lender_id: str,
        version: str | None,
        *,
        thresholds: Thresholds | Mapping[str, float] | None = None,
        policy_version: str | None = None,
    ) -> dict[str, Any] | None:
        """Shadow ``version`` next to the champion (``None`` removes the challenger)."""
        with self._locked():
            state = self._read_state(lender_id)
            now = _now()
            events = []
            old = state.get("challenger")
            if old is not None:
                events.append(self._event(lender_id, {**old, "deployed_at": now}, "shadow", "retired"))
            if version is None:
                state["challenger"] = None
            else:
                meta = self.verify(lender_id, version)
                gate = self.gate_record(lender_id, version) or {}
                th = thresholds or gate.get("thresholds") or meta["thresholds"]
                entry = {"version": version, "thresholds": Thresholds.coerce(th).to_dict(), "deployed_at": now,
                         "policy_version": policy_version}
                state["challenger"] = entry
                events.append(self._event(lender_id, entry, "shadow", "challenger"))
            self._commit(lender_id, state, events)
        return events[-1] if events else None

    def deployment_rows(self, since: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Rows for the warehouse table ``model_deployments`` (thresholds as a JSON string), oldest first."""
        log = self.root / "deployments.jsonl"
        if not log.exists():
            return []
        rows = []
        for line in log.read_text().splitlines():
            if not line.strip():
                continue
            e = json.loads(line)
            at = dt.datetime.fromisoformat(e["deployed_at"])
            if since is not None and at <= since:
                continue
            rows.append({**e, "deployed_at": at, "thresholds": json.dumps(e["thresholds"], sort_keys=True)})
        return rows
