"""Audit trail: who asked what, which SQL ran, what came back.

The replica is read-only and DuckDB allows one writer per file, so the copilot appends JSON lines to its own file
(``CREDIT_COPILOT_AUDIT_PATH``); the decision-log loader or a sync job imports them into the warehouse's
``copilot_audit`` table (same field names). Appends are whole lines under a lock, so concurrent requests in one
process never interleave, and an audit failure never hides the answer (it is logged instead).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)
_lock = threading.Lock()

Outcome = Literal["answered", "cannot_answer", "blocked", "error", "timeout"]


class AuditRecord(BaseModel):
    """One row of ``copilot_audit``."""

    audit_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    asked_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    user_name: str
    team: str
    question: str
    sql: str | None
    outcome: Outcome
    rows_returned: int = 0
    backend: str | None = None
    latency_ms: float = 0.0


def write_audit(record: AuditRecord, path: Path) -> bool:
    """Append ``record``; returns False (and logs) when the file cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        line = record.model_dump_json() + "\n"
        with _lock, path.open("a", encoding="utf-8") as fh:
            fh.write(line)
        return True
    except OSError:
        log.exception("could not write the copilot audit record to %s", path)
        return False


def read_audit(path: Path) -> list[AuditRecord]:
    """All records in ``path`` (for the sync job and tests)."""
    if not path.exists():
        return []
    return [AuditRecord.model_validate(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
