"""Same parameters, same world (table by table); an interrupted generation leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import warehouse.world.generator as generator
from warehouse.world import WORLD_TABLES, generate_world, table_checksums

TINY = {"days": 5, "per_day": 300, "scenarios": ("new_partner", "bureau_format_change", "feature_zero"),
        "progress": False}


def _checksums(path: Path) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return table_checksums(con)


def test_same_seed_same_content_different_seed_different(tmp_path: Path) -> None:
    a = generate_world(tmp_path / "a.duckdb", seed=11, **TINY)
    b = generate_world(tmp_path / "b.duckdb", seed=11, **TINY)
    c = generate_world(tmp_path / "c.duckdb", seed=12, **TINY)
    sums_a, sums_b, sums_c = (_checksums(s.path) for s in (a, b, c))
    assert set(sums_a) == set(WORLD_TABLES)
    assert sums_a == sums_b
    assert a.run_id == b.run_id != c.run_id
    for table in ("applicants", "applications", "bureau_reports", "ground_truth", "loans", "repayments"):
        assert sums_a[table] != sums_c[table], table


def test_interrupted_generation_leaves_no_file_and_keeps_the_old_one(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # what Ctrl-C mid-generation raises

    monkeypatch.setattr(generator, "build_history", explode)
    with pytest.raises(KeyboardInterrupt):
        generate_world(tmp_path / "fresh.duckdb", seed=1, **TINY)
    assert list(tmp_path.iterdir()) == []

    old = tmp_path / "old.duckdb"
    old.write_bytes(b"previous warehouse")
    with pytest.raises(KeyboardInterrupt):
        generate_world(old, seed=1, **TINY)
    assert old.read_bytes() == b"previous warehouse"
    assert [p.name for p in tmp_path.iterdir()] == ["old.duckdb"]
