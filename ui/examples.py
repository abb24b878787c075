"""Example questions for a team, taken from the catalog's verified queries (never hard-coded in the app).

First the team's verified queries in the store (accepted by analysts, so they reflect how the team actually asks),
then the catalog owner's reviewed seed pairs for the team. Only questions are shown; the copilot answers them live.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb
import yaml

from schema_catalog.settings import get_settings as catalog_settings
from schema_catalog.verified import SEED_FILE, VerifiedQueryStore


def example_questions(team: str, limit: int = 6, store_path: Path | None = None, seed_path: Path = SEED_FILE
                      ) -> list[str]:
    """Up to ``limit`` distinct questions for ``team``: verified store first (if the file exists), then the seeds."""
    questions: list[str] = []
    path = Path(store_path or catalog_settings().verified_path)
    if path.exists():  # never create the store just to read it
        # A store locked by another process or from an older layout must not break the page.
        with contextlib.suppress(duckdb.Error):
            questions += [q.question for q in VerifiedQueryStore(path).list(team, status="verified")]
    raw = yaml.safe_load(seed_path.read_text()) or {}
    questions += [pair["question"] for pair in (raw.get("teams") or {}).get(team) or []]
    seen: dict[str, str] = {}
    for q in questions:
        seen.setdefault(" ".join(q.lower().split()), q)
    return list(seen.values())[:limit]
