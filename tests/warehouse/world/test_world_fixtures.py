"""Smoke test of the shared ``small_world`` fixture: the file, the replica and the settings override all work."""

from __future__ import annotations

from warehouse.db import connect_reader
from warehouse.settings import get_settings


def test_small_world_env_points_settings_at_the_replica(small_world_env) -> None:
    assert get_settings().replica_path == small_world_env.replica
    with connect_reader() as con:
        n = con.execute("SELECT count(*) FROM applications").fetchone()[0]
    assert n == small_world_env.days * small_world_env.per_day


def test_world_factory_builds_once_per_parameter_set(world_factory) -> None:
    first = world_factory(days=3, per_day=50, seed=1, scenarios=("none",))
    again = world_factory(days=3, per_day=50, seed=1, scenarios=["none"])
    other = world_factory(days=3, per_day=50, seed=2, scenarios=("none",))
    assert first is again and other.path != first.path
    assert first.replica.exists() and first.scenarios == ()
