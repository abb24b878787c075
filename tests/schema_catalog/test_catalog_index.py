"""The Chroma index: per-team collections, incremental re-embedding, missing and corrupted stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from schema_catalog.index import (
    REBUILD_COMMAND,
    IndexCorruptError,
    IndexMissingError,
    IndexReport,
    build_index,
    forget_clients,
    open_client,
    open_collection,
)
from schema_catalog.retrieval import Retriever

TEAM = ["partnerships"]  # the smallest collection keeps these builds quick
SAMPLES = {("partners", "name"): ("Paisabazaar", "CashKaro"), ("partners", "channel_type"): ("app", "web")}


def test_one_collection_per_team_with_only_its_scope(catalog_index: tuple[Path, IndexReport]) -> None:
    path, report = catalog_index
    assert set(report.teams) == {"risk", "growth", "partnerships"}
    client = open_client(path)
    growth = client.get_collection("catalog_growth")
    got = growth.get(include=["metadatas"])
    tables = {m["table"] for m in got["metadatas"] if "table" in m}
    assert "bureau_reports" not in tables and "applicants" not in tables
    assert not [i for i in got["ids"] if i == "column:applicants.pan"]
    kinds = {m["kind"] for m in got["metadatas"]}
    assert kinds == {"table", "column", "metric", "dimension", "verified"}
    partnerships_ids = client.get_collection("catalog_partnerships").get()["ids"]
    assert not [i for i in partnerships_ids if i.startswith(("table:decisions", "table:applications"))]


def test_incremental_build_embeds_only_changed_documents(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    first = build_index(path, SAMPLES, teams=TEAM, progress=False)
    assert first.teams["partnerships"].added > 50 and first.embedded > 50
    again = build_index(path, SAMPLES, teams=TEAM, progress=False)
    assert again.embedded == 0
    assert again.teams["partnerships"].unchanged == first.teams["partnerships"].added
    changed = dict(SAMPLES)
    changed[("partners", "name")] = ("Paisabazaar", "CashKaro", "BankBazaar")
    third = build_index(path, changed, teams=TEAM, progress=False)
    assert (third.teams["partnerships"].updated, third.teams["partnerships"].added) == (1, 0)
    assert third.embedded == 1
    doc = open_client(path).get_collection("catalog_partnerships").get(ids=["column:partners.name"])
    assert "BankBazaar" in doc["documents"][0]


def test_missing_index_names_the_rebuild_command(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match=REBUILD_COMMAND):
        Retriever(tmp_path / "nowhere")
    with pytest.raises(IndexMissingError, match=REBUILD_COMMAND):
        open_collection(tmp_path / "nowhere", "growth")


def test_corrupt_index_is_reported_then_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    build_index(path, SAMPLES, teams=TEAM, progress=False)
    forget_clients()
    (path / "chroma.sqlite3").write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(IndexCorruptError, match=REBUILD_COMMAND):
        open_collection(path, "partnerships")
    forget_clients()
    report = build_index(path, SAMPLES, teams=TEAM, progress=False)
    assert report.recovered_from is not None and report.recovered_from.exists()  # moved aside, not deleted
    assert report.teams["partnerships"].added > 50
    forget_clients()
    ctx = Retriever(path).retrieve("approval rate for CashKaro", "partnerships")
    assert "approval_rate" in ctx.metrics


def test_cli_index_builds_then_reports_nothing_to_embed(small_world, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from schema_catalog.__main__ import main

    args = ["index", "--warehouse", str(small_world.replica), "--chroma", str(tmp_path / "chroma"),
            "--verified", str(tmp_path / "vq.duckdb"), "--quiet"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "'rejected': 0" in first and "texts embedded: 0" not in first
    forget_clients()
    assert main(args) == 0
    second = capsys.readouterr().out
    assert "texts embedded: 0" in second and "'unchanged': " in second
