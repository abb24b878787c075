"""External benchmark adapter: SQLite -> DuckDB copy, automatic catalog, scoring, skipping, and the real datasets."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import duckdb
import pytest

from evals.external import DatasetMissingError, adhoc_semantics, run_external, sqlite_to_duckdb
from evals.settings import get_settings


def _tiny_spider(root: Path) -> Path:
    """A Spider-DK-shaped folder with one database and three questions (one gold query DuckDB cannot run)."""
    db_dir = root / "spider-dk" / "database" / "new_concert_singer"
    db_dir.mkdir(parents=True)
    con = sqlite3.connect(db_dir / "new_concert_singer.sqlite")
    con.execute("CREATE TABLE singer (Singer_ID int, Name text, Country text, Age text)")
    con.executemany("INSERT INTO singer VALUES (?, ?, ?, ?)",
                    [(1, "Joe", "France", "52"), (2, "Ana", "Spain", "29"), (3, "Li", "France", "41")])
    con.commit()
    con.close()
    questions = [
        {"db_id": "new_concert_singer", "question": "How many singers do we have?",
         "query": "SELECT count(*) FROM singer", "type": "x"},
        {"db_id": "new_concert_singer", "question": "Names of singers older than 40",
         "query": "SELECT name FROM singer WHERE age > 40", "type": "x"},
        {"db_id": "new_concert_singer", "question": "Country with the oldest singer name",
         "query": "SELECT country, name FROM singer GROUP BY country", "type": "x"},
        {"db_id": "other_db", "question": "ignored: its database is not shipped", "query": "SELECT 1", "type": "x"},
    ]
    (root / "spider-dk" / "Spider-DK.json").write_text(json.dumps(questions))
    return root


def test_sqlite_copy_infers_numeric_types_from_values(tmp_path: Path) -> None:
    root = _tiny_spider(tmp_path)
    target = sqlite_to_duckdb(root / "spider-dk/database/new_concert_singer/new_concert_singer.sqlite",
                              tmp_path / "copy.duckdb")
    con = duckdb.connect(str(target), read_only=True)
    try:
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns").fetchall())
        assert con.execute("SELECT count(*) FROM singer WHERE Age > 40").fetchone()[0] == 2
    finally:
        con.close()
    assert types == {"Singer_ID": "BIGINT", "Name": "VARCHAR", "Country": "VARCHAR", "Age": "BIGINT"}


def test_automatic_catalog_from_any_duckdb_file(tmp_path: Path) -> None:
    root = _tiny_spider(tmp_path)
    target = sqlite_to_duckdb(root / "spider-dk/database/new_concert_singer/new_concert_singer.sqlite",
                              tmp_path / "copy.duckdb")
    sem, scope = adhoc_semantics(target)
    assert "singer_count" in sem.metrics and "avg_singer_Age" in sem.metrics
    assert "singer_Country" in sem.dimensions and "France" in sem.samples["singer_Country"]
    assert scope.name == "external" and "singer" in scope.tables


def test_run_scores_and_reports_unrunnable_gold(tmp_path: Path) -> None:
    root = _tiny_spider(tmp_path)
    summary = run_external("spider-dk", backends=["semantic"], datasets_dir=root, out_dir=tmp_path / "out",
                           progress=False)
    statuses = {r.question: r.status for r in summary.results["semantic"]}
    assert len(statuses) == 3
    assert statuses["How many singers do we have?"] == "correct"
    assert statuses["Country with the oldest singer name"] == "gold_unrunnable"
    assert "cannot run on DuckDB" in (tmp_path / "out" / "external_spider-dk.md").read_text()
    assert json.loads((tmp_path / "out" / "external_spider-dk.json").read_text())["semantic"]["counts"]


def test_missing_dataset_is_a_typed_skip(tmp_path: Path) -> None:
    with pytest.raises(DatasetMissingError, match="CREDIT_EVALS_DATASETS_DIR"):
        run_external("duckdb-nsql", backends=["semantic"], datasets_dir=tmp_path, out_dir=tmp_path)


def test_real_spider_dk(tmp_path: Path) -> None:
    datasets = get_settings().datasets_dir
    if not (datasets / "spider-dk").is_dir():
        pytest.skip(f"shared datasets not present at {datasets}")
    summary = run_external("spider-dk", backends=["semantic"], datasets_dir=datasets, out_dir=tmp_path,
                           progress=False)
    counts = summary.counts("semantic")
    assert sum(counts.values()) == 127
    assert counts["gold_unrunnable"] < 30  # README: some gold queries group by bare columns; most must run
