"""The default world at full size (45 days x 50,000 a day): the story holds at scale. Slow: about 1-2 minutes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse.world import generate_world


@pytest.mark.slow
def test_default_world_at_full_size(tmp_path: Path) -> None:
    path = tmp_path / "full.duckdb"
    summary = generate_world(path, progress=False)
    try:
        assert summary.rows["applications"] == summary.rows["bureau_reports"] == summary.rows["ground_truth"] \
            == 45 * 50_000
        assert summary.rows["loans"] <= 160_000
        with duckdb.connect(str(path), read_only=True) as con:
            before, after, p08_share = con.execute("""
                SELECT avg((true_pd < 0.08)::INT) FILTER (WHERE received_at < DATE '2026-10-25'),
                       avg((true_pd < 0.08)::INT) FILTER (WHERE received_at >= DATE '2026-10-25'),
                       avg((partner_id = 'P08')::INT) FILTER (WHERE received_at >= DATE '2026-10-25')
                FROM applications JOIN ground_truth USING (application_id)""").fetchone()
        assert 0.31 <= before <= 0.37 and 0.24 <= after <= 0.30
        assert 0.25 <= p08_share <= 0.32
    finally:
        path.unlink(missing_ok=True)
