"""With the catalog's real Chroma index (MiniLM offline), retrieval feeds the planner and the prompt context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.pipeline import Copilot


@pytest.fixture(scope="module")
def index_path(small_world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import duckdb

    from schema_catalog.catalog import extract_samples
    from schema_catalog.index import build_index

    path = tmp_path_factory.mktemp("chroma")
    # a plain read-only connection: the copilot's sandbox may already hold this file's (locked) database instance
    with duckdb.connect(str(small_world.replica), read_only=True) as con:
        samples = extract_samples(con)
    build_index(path, samples, teams=["growth"], progress=False)
    return path


@pytest.fixture
def with_index(small_world, settings, index_path: Path) -> Iterator[Copilot]:
    c = Copilot(settings, replica=small_world.replica, retrieval_path=index_path)
    yield c
    c.close()


def test_answer_carries_retrieved_context(with_index: Copilot) -> None:
    answer = with_index.ask("number of applications by purpose last 7 days", "growth")
    assert not answer.cannot_answer, answer.reason
    assert "unavailable" not in answer.retrieved
    assert "application_count" in answer.retrieved["metrics"][:3]
    assert "applications" in answer.retrieved["tables"]
    assert answer.timings["retrieval"] > 0


def test_partner_names_from_samples_become_filters(with_index: Copilot, small_world) -> None:
    import duckdb

    with duckdb.connect(str(small_world.replica), read_only=True) as con:
        name = con.execute("SELECT name FROM partners ORDER BY partner_id LIMIT 1").fetchone()[0]
    answer = with_index.ask(f"number of applications from {name} by purpose", "growth")
    assert answer.plan is not None, answer.reason
    assert [(f.dimension, f.values) for f in answer.plan.filters] == [("partner", [name])]
    assert answer.rows and answer.rows.columns == ["purpose", "application_count"]
