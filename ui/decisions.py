"""Decision look-up for the Decisions page, through the guardrails so PII follows the team's policy.

Every query here is built from the team's scope (only columns the team may see are selected) and runs through the
same ``guardrails.validate`` + hardened executor as a copilot answer: for ``risk`` (pii: masked) applicant PII comes
back as salted hashes, for ``growth`` the PII columns are simply not selectable, and ``partnerships`` (no
decision-level access) is told so rather than shown anything. No query here touches the warehouse unvalidated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from copilot.pipeline import Copilot
from schema_catalog.teams import team_scope

DECISION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
OFFER_COLUMNS = ("lender_id", "decision", "score", "offered_amount", "offered_apr", "offered_tenure_months", "emi",
                 "reason_codes", "fallback_used", "model_version", "policy_version", "decision_id")


class DecisionLookupError(Exception):
    """Base class of look-up failures shown on the page."""


class DecisionRefusedError(DecisionLookupError):
    """The guardrails refused the look-up query (or the engine failed running it)."""


class InvalidDecisionIdError(DecisionLookupError):
    """The text typed is not a well-formed decision identifier."""


class DecisionAccessError(DecisionLookupError):
    """The team may not see individual decisions."""


class DecisionNotFoundError(DecisionLookupError):
    """No decision with that identifier in the replica."""


@dataclass
class DecisionView:
    """One decision with everything the page shows; ``masked`` lists output columns the guardrails hashed."""

    decision: dict[str, Any]
    features: dict[str, Any] | None
    offers: list[dict[str, Any]]
    application: dict[str, Any]
    applicant: dict[str, Any] | None
    masked: list[str] = field(default_factory=list)
    hidden_pii: bool = False


def can_look_up(team: str) -> bool:
    """Whether ``team`` may see individual decisions at all."""
    return team_scope(team).allows_table("decisions")


def _select(copilot: Copilot, team: str, sql: str) -> tuple[list[dict[str, Any]], list[str]]:
    answer = copilot.run_sql(sql, team, "decision-lookup")
    if answer.cannot_answer or answer.rows is None:
        error = next((a.error for a in reversed(answer.attempts) if a.error), None) or {}
        raise DecisionRefusedError(str(error.get("message") or answer.reason or "the lookup query was refused"))
    masked = list((answer.validation or {}).get("masked_columns", []))
    return [dict(zip(answer.rows.columns, r, strict=True)) for r in answer.rows.rows], masked


def _cols(team: str, table: str, wanted: tuple[str, ...] | None = None) -> list[str]:
    visible = team_scope(team).tables.get(table, ())
    return [c for c in (wanted or visible) if c in visible]


def _lit(value: str) -> str:
    return exp.Literal.string(value).sql(dialect="duckdb")


def recent_decision_ids(copilot: Copilot, team: str, limit: int = 8) -> list[str]:
    """A few of the latest decision ids (to try the page without knowing one)."""
    if not can_look_up(team):
        return []
    rows, _ = _select(copilot, team, f"SELECT decisions.decision_id FROM decisions "
                                     f"ORDER BY decisions.decided_at DESC, decisions.decision_id LIMIT {int(limit)}")
    return [r["decision_id"] for r in rows]


def lookup_decision(copilot: Copilot, team: str, decision_id: str) -> DecisionView:
    """The decision, its sibling offers (every lender for the same application), application and applicant."""
    decision_id = (decision_id or "").strip()
    if not DECISION_ID_RE.match(decision_id):
        raise InvalidDecisionIdError(f"{decision_id[:40]!r} is not a decision id (letters, digits, '_', '-', '.', ':'; "
                                     "up to 128 characters), e.g. one from the list of recent decisions")
    if not can_look_up(team):
        raise DecisionAccessError(f"team {team!r} sees partner- and lender-level aggregates only, not individual "
                                  "decisions; ask on the Ask page, e.g. 'approval rate per partner'")
    scope = team_scope(team)
    dcols = _cols(team, "decisions")
    rows, masked = _select(copilot, team, "SELECT " + ", ".join(f"decisions.{c}" for c in dcols)
                           + f" FROM decisions WHERE decisions.decision_id = {_lit(decision_id)}")
    if not rows:
        raise DecisionNotFoundError(f"no decision {decision_id!r} in the warehouse replica")
    decision = rows[0]
    features = decision.pop("features", None)
    app_id = decision["application_id"]
    ocols = _cols(team, "decisions", OFFER_COLUMNS)
    offers, m2 = _select(copilot, team, "SELECT lenders.name AS lender, " + ", ".join(f"decisions.{c}" for c in ocols)
                         + " FROM decisions JOIN lenders ON decisions.lender_id = lenders.lender_id "
                         f"WHERE decisions.application_id = {_lit(app_id)} ORDER BY decisions.lender_id")
    acols = _cols(team, "applications")
    apps, m3 = _select(copilot, team, "SELECT partners.name AS partner_name, "
                       + ", ".join(f"applications.{c}" for c in acols)
                       + " FROM applications JOIN partners ON applications.partner_id = partners.partner_id "
                       f"WHERE applications.application_id = {_lit(app_id)}")
    applicant = None
    if scope.allows_table("applicants") and apps and apps[0].get("applicant_id"):
        pcols = _cols(team, "applicants")
        people, m4 = _select(copilot, team, "SELECT " + ", ".join(f"applicants.{c}" for c in pcols)
                             + f" FROM applicants WHERE applicants.applicant_id = {_lit(apps[0]['applicant_id'])}")
        applicant = people[0] if people else None
        masked += m4
    hidden = scope.pii_policy == "denied"
    return DecisionView(decision, features, offers, apps[0] if apps else {}, applicant,
                        sorted(set(masked + m2 + m3)), hidden)
