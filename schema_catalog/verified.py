"""Verified queries: question->SQL pairs analysts accepted, kept in the catalog's own DuckDB file.

The replica is read-only, so the pairs live in ``CREDIT_CATALOG_VERIFIED_PATH``. A pair becomes ``verified`` (and only
then enters retrieval) after the caller's ``validator`` accepts it: the copilot passes its guardrails plus a re-run on
the replica. This package never imports the guardrails; it only calls what it is given. A rejected pair is kept with
its error (nothing accepted is ever lost, nothing unvalidated is ever served).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import yaml

from schema_catalog.settings import get_settings
from schema_catalog.teams import team_scope

SEED_FILE = Path(__file__).with_name("verified_seed.yaml")

Validator = Callable[[str, str], None]
"""``validator(sql, team)`` returns None when the SQL passes the guardrails and re-runs, and raises otherwise."""

Status = Literal["candidate", "verified", "rejected"]

_DDL = """
CREATE TABLE IF NOT EXISTS verified_queries (
  query_id VARCHAR PRIMARY KEY,
  team VARCHAR NOT NULL,
  question VARCHAR NOT NULL,
  sql VARCHAR NOT NULL,
  status VARCHAR NOT NULL,
  submitted_by VARCHAR NOT NULL,
  submitted_at TIMESTAMP NOT NULL,
  verified_by VARCHAR,
  verified_at TIMESTAMP,
  last_error VARCHAR,
  source VARCHAR NOT NULL
)
"""
_COLUMNS = ("query_id, team, question, sql, status, submitted_by, submitted_at, verified_by, verified_at, "
            "last_error, source")


class VerifiedQueryError(ValueError):
    """A pair is malformed (empty question or SQL) or unknown."""


class VerificationFailedError(RuntimeError):
    """The validator rejected the pair; it is stored as ``rejected`` with the reason and never retrieved."""

    def __init__(self, query_id: str, reason: BaseException) -> None:
        super().__init__(f"verified query {query_id} rejected: {reason}")
        self.query_id = query_id
        self.reason = reason


@dataclass(frozen=True)
class VerifiedQuery:
    query_id: str
    team: str
    question: str
    sql: str
    status: Status
    submitted_by: str
    submitted_at: dt.datetime
    verified_by: str | None
    verified_at: dt.datetime | None
    last_error: str | None
    source: str


def query_id_for(team: str, question: str, sql: str) -> str:
    """Stable id: the same pair submitted twice is one row (seeding is idempotent)."""
    key = "\x1f".join([team, " ".join(question.lower().split()), " ".join(sql.split())])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class VerifiedQueryStore:
    """Small DuckDB-backed store; each call opens and closes the file so several processes can take turns."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path or get_settings().verified_path)

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        try:
            con.execute(_DDL)
            yield con
        finally:
            con.close()

    def submit(self, team: str, question: str, sql: str, submitted_by: str, source: str = "analyst") -> VerifiedQuery:
        """Record a candidate pair (not retrievable until :meth:`verify` passes)."""
        team_scope(team)  # unknown team -> UnknownTeamError
        question, sql = question.strip(), sql.strip().rstrip(";").strip()
        if not question or not sql:
            raise VerifiedQueryError("a verified query needs a non-empty question and SQL")
        if not submitted_by.strip():
            raise VerifiedQueryError("a verified query needs the name of who submitted it")
        qid = query_id_for(team, question, sql)
        with self._connect() as con:
            con.execute(
                f"INSERT INTO verified_queries ({_COLUMNS}) VALUES (?, ?, ?, ?, 'candidate', ?, ?, NULL, NULL, NULL, ?)"
                " ON CONFLICT DO NOTHING",
                [qid, team, question, sql, submitted_by, _now(), source],
            )
        return self.get(qid)

    def verify(self, query_id: str, verified_by: str, validator: Validator) -> VerifiedQuery:
        """Run ``validator(sql, team)``; on success the pair is ``verified`` by ``verified_by`` now."""
        pair = self.get(query_id)
        try:
            validator(pair.sql, pair.team)
        except Exception as err:  # the validator's own typed errors are wrapped, never swallowed
            with self._connect() as con:
                con.execute(
                    "UPDATE verified_queries SET status = 'rejected', last_error = ? WHERE query_id = ?",
                    [f"{type(err).__name__}: {err}", query_id],
                )
            raise VerificationFailedError(query_id, err) from err
        with self._connect() as con:
            con.execute(
                "UPDATE verified_queries SET status = 'verified', verified_by = ?, verified_at = ?, last_error = NULL"
                " WHERE query_id = ?",
                [verified_by, _now(), query_id],
            )
        return self.get(query_id)

    def accept(self, team: str, question: str, sql: str, verified_by: str, validator: Validator,
               source: str = "analyst") -> VerifiedQuery:
        """Submit and verify in one step (the copilot's "this answer is right" button)."""
        pair = self.submit(team, question, sql, verified_by, source)
        return self.verify(pair.query_id, verified_by, validator)

    def get(self, query_id: str) -> VerifiedQuery:
        with self._connect() as con:
            row = con.execute(f"SELECT {_COLUMNS} FROM verified_queries WHERE query_id = ?", [query_id]).fetchone()
        if row is None:
            raise VerifiedQueryError(f"no verified query {query_id!r}")
        return VerifiedQuery(*row)

    def list(self, team: str | None = None, status: Status | None = "verified") -> list[VerifiedQuery]:
        """Pairs of ``team`` (all teams if None) with ``status`` (all statuses if None), oldest first."""
        where, params = [], []
        if team is not None:
            where.append("team = ?")
            params.append(team)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {_COLUMNS} FROM verified_queries {clause} ORDER BY submitted_at, query_id", params
            ).fetchall()
        return [VerifiedQuery(*r) for r in rows]

    def seed(self, validator: Validator, path: Path = SEED_FILE, verified_by: str = "catalog-seed") -> dict[str, int]:
        """Submit and verify the reviewed seed pairs; counts of verified, rejected and already-verified pairs."""
        counts = {"verified": 0, "rejected": 0, "unchanged": 0}
        raw = yaml.safe_load(path.read_text()) or {}
        for team, pairs in (raw.get("teams") or {}).items():
            for pair in pairs or []:
                existing = self.submit(team, pair["question"], pair["sql"], verified_by, source="seed")
                if existing.status == "verified":
                    counts["unchanged"] += 1
                    continue
                try:
                    self.verify(existing.query_id, verified_by, validator)
                    counts["verified"] += 1
                except VerificationFailedError:
                    counts["rejected"] += 1
        return counts


def replica_validator(con: duckdb.DuckDBPyConnection) -> Validator:
    """Validator for the index CLI when no guardrails are supplied: team views + a real re-run on ``con``.

    Not a replacement for the guardrails (the copilot passes those); it proves the SQL parses as one SELECT, uses
    only the team's tables and columns (the TEMP views make the binder refuse anything else) and runs.
    """
    import sqlglot
    from sqlglot import exp

    from schema_catalog.views import apply_team_views

    def validate(sql: str, team: str) -> None:
        statements = sqlglot.parse(sql, read="duckdb")
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise VerifiedQueryError("a verified query must be exactly one SELECT statement")
        cur = con.cursor()
        try:
            apply_team_views(cur, team)
            cur.execute(sql).fetchmany(1)
        finally:
            cur.close()

    return validate
