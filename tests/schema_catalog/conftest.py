"""Fixtures of the schema_catalog tests: an empty migrated warehouse, and one real Chroma index per session.

The index is built once (embedding ~200 documents with the real offline MiniLM model) from the shared
``small_world`` and reused read-only; tests that modify an index build their own small one (one team).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from schema_catalog.catalog import extract_samples
from schema_catalog.index import IndexReport, build_index, forget_clients
from schema_catalog.retrieval import Retriever
from schema_catalog.verified import VerifiedQueryStore, replica_validator
from warehouse.db import connect_reader, connect_writer


@pytest.fixture
def empty_warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A migrated warehouse with no rows: SQL that binds here is valid against the contract."""
    con = connect_writer(tmp_path / "empty.duckdb")
    yield con
    con.close()


@pytest.fixture(scope="session")
def world_samples(small_world) -> dict[tuple[str, str], tuple[str, ...]]:
    con = connect_reader(small_world.replica)
    try:
        return extract_samples(con)
    finally:
        con.close()


@pytest.fixture(scope="session")
def catalog_index(tmp_path_factory: pytest.TempPathFactory, small_world, world_samples) -> tuple[Path, IndexReport]:
    """A full index (all teams, seeded verified queries) built from the small world."""
    root = tmp_path_factory.mktemp("catalog_index")
    store = VerifiedQueryStore(root / "verified.duckdb")
    con = connect_reader(small_world.replica)
    try:
        seeded = store.seed(replica_validator(con))
    finally:
        con.close()
    assert seeded["rejected"] == 0, store.list(status="rejected")
    report = build_index(root / "chroma", world_samples, store.list(), progress=False)
    return root / "chroma", report


@pytest.fixture(scope="session")
def retriever(catalog_index: tuple[Path, IndexReport]) -> Retriever:
    forget_clients()
    return Retriever(catalog_index[0])
