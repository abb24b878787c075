"""Public SQL-injection payload lists against the rules.

Each payload alone must be refused. Appended to a legitimate query it must be refused or be harmless: when the
combined text still validates, it is by construction one read-only SELECT over the team's own tables, and it is run
in the sandbox to show it does nothing else.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from guardrails import validate
from guardrails.errors import ExecutionError, GuardrailError
from guardrails.executor import SafeExecutor
from guardrails.scope import Scope

REPO_ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = REPO_ROOT.parent / "shared" / "datasets" / "sqli-payloads"
LEGIT = "SELECT partner_id, count(*) AS n FROM decisions WHERE decision = 'approve' "


def _files() -> list[Path]:
    if not PAYLOADS.is_dir():
        return []
    return sorted(p for p in PAYLOADS.rglob("*") if p.is_file() and p.name not in {"LICENSE", "SOURCE.md"})


FILES = _files()


def _payloads(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()]


@pytest.mark.skipif(not FILES, reason=f"payload lists not found at {PAYLOADS} (../shared/datasets/sqli-payloads)")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(PAYLOADS)) if FILES else "" for p in FILES])
def test_payload_list(path: Path, scopes: dict[str, Scope], tiny_replica: Path) -> None:
    scope = scopes["growth"]
    escaped_alone = []
    harmless = 0
    with SafeExecutor(tiny_replica) as executor:
        for payload in _payloads(path):
            try:
                validated = validate(payload, scope)
            except GuardrailError:
                pass
            else:
                escaped_alone.append(payload)
            try:
                validated = validate(LEGIT + payload, scope)
            except GuardrailError:
                continue
            assert validated.tables <= set(scope.tables), payload
            with contextlib.suppress(ExecutionError):  # DuckDB refusing it at run time is harmless too
                executor.run(validated)
            harmless += 1
    assert escaped_alone == []
    print(f"{path.name}: {len(_payloads(path))} payloads, {harmless} appended forms were harmless in-scope SELECTs")
