"""The model registry: immutable versioned artifacts, champion/challenger pointers and a deployments log.

Two halves with different lifetimes, split along that seam:

* :mod:`decision_service.model_store` (``ModelStore``, ``ModelArtifact``): write-once version folders, registered
  atomically, hash-verified on first load, never rewritten. Its docstring describes the folder layout.
* this module (``ModelRegistry``, a ``ModelStore``): the *mutable* deployment state, i.e. which version decides
  (champion), which one shadows it (challenger), the latest gate result of each version and the append-only
  deployments log. Every change happens under the store's cross-process lock.

Layout added under ``root`` (``Settings.model_dir``) next to the version folders::

    <lender_id>/deployment.json                 champion / challenger / history pointers (atomic replace)
    <lender_id>/gates/<version>.json            latest deployment-gate result of that version
    deployments.jsonl                           every deployment event, the source of ``model_deployments`` rows

Thresholds are a property of a *deployment* (the gate may recalibrate them when a candidate is promoted), so they
live in the pointer file, not in the frozen folder.

``ModelArtifact`` (from :mod:`decision_service.model_store`), ``LoadedModel`` and ``Thresholds`` (from
:mod:`decision_service.model`) and the errors (from :mod:`decision_service.model_errors`) are re-exported here, as the
shared contract names this module for them: ``from decision_service.registry import ...`` keeps working.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Mapping
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
from decision_service.model_store import CORE_FILES, REQUIRED_METADATA, ModelArtifact, ModelStore, utc_now_iso

__all__ = [
    "CORE_FILES",
    "REQUIRED_METADATA",
    "ArtifactIntegrityError",
    "GateNotPassedError",
    "LoadedModel",
    "MetadataError",
    "ModelArtifact",
    "ModelRegistry",
    "ModelStore",
    "ModelVersionExistsError",
    "NoChampionError",
    "NothingToRollBackError",
    "RegistryError",
    "Thresholds",
    "ThresholdsError",
    "UnknownModelError",
]


def _write_atomic(path: Path, data: str) -> None:
    """Replace ``path`` in one rename (readers see the old or the new pointer, never half a file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ModelRegistry(ModelStore):
    """File-system model registry shared by training, the gate, the backfill and the API (see module docstring).

    Versions (``register``, ``versions``, ``lenders``, ``metadata``, ``verify``, ``load``) come from
    :class:`~decision_service.model_store.ModelStore`; this class adds what gets deployed and when.
    """

    def __init__(self, root: Path | str) -> None:
        super().__init__(root)
        self._state: dict[str, dict[str, Any]] = {}
        self._stamp: dict[str, tuple[int, int]] = {}
        self.reload()

    def _pointer(self, lender_id: str) -> Path:
        return self._lender_dir(lender_id) / "deployment.json"

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
                "deployed_at": utc_now_iso(),
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
            now = utc_now_iso()
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
            now = utc_now_iso()
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
