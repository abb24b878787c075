"""Shared fixtures for the whole test suite.

The synthetic world is the common ground of every package's tests, so one small world is generated once per session
and shared. Treat ``small_world`` as READ-ONLY; a test that writes to the warehouse takes ``writable_world``, which
hands out its own copy.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from warehouse.db import publish_replica, writer
from warehouse.settings import get_settings
from warehouse.world import generate_world


@dataclass(frozen=True)
class World:
    """A generated warehouse file (``path``, the writer's) and its published read-only ``replica``."""

    path: Path
    replica: Path
    days: int
    per_day: int
    seed: int
    start_date: dt.date
    scenarios: tuple[str, ...]


SMALL_WORLD = {"days": 30, "per_day": 1_000, "seed": 7}


def _make_world(root: Path, **kwargs: object) -> World:
    path, replica = root / "warehouse.duckdb", root / "replica.duckdb"
    summary = generate_world(path, progress=False, **kwargs)  # type: ignore[arg-type]
    with writer(path) as con:
        publish_replica(con, replica)
    p = summary.params
    return World(path, replica, p.days, p.per_day, p.seed, p.start_date, p.scenarios)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Default-scenario world (30 days x 1,000 applications/day, seed 7), generated once per session. Read-only."""
    return _make_world(tmp_path_factory.mktemp("small_world"), **SMALL_WORLD)


@pytest.fixture(scope="session")
def world_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., World]:
    """Build (once per session and parameter set) a world with other parameters, e.g. monitoring scenarios:
    ``world_factory(days=24, per_day=400, scenarios=("new_partner", "feature_zero"))``. Read-only, like small_world.
    """
    cache: dict[tuple, World] = {}

    def make(**kwargs: object) -> World:
        key = tuple(sorted((k, tuple(v) if isinstance(v, list | tuple) else v) for k, v in kwargs.items()))
        if key not in cache:
            cache[key] = _make_world(tmp_path_factory.mktemp("world"), **kwargs)
        return cache[key]

    return make


@pytest.fixture
def writable_world(small_world: World, tmp_path: Path) -> World:
    """A private copy of ``small_world`` (writer file and replica) that a test may modify."""
    path, replica = tmp_path / "warehouse.duckdb", tmp_path / "replica.duckdb"
    shutil.copyfile(small_world.path, path)
    shutil.copyfile(small_world.replica, replica)
    return World(path, replica, small_world.days, small_world.per_day, small_world.seed, small_world.start_date,
                 small_world.scenarios)


def _point_settings_at(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("CREDIT_WAREHOUSE_PATH", str(world.path))
    monkeypatch.setenv("CREDIT_WAREHOUSE_REPLICA_PATH", str(world.replica))
    get_settings.cache_clear()
    yield world
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def small_world_env(small_world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """``small_world`` with CREDIT_WAREHOUSE_PATH / CREDIT_WAREHOUSE_REPLICA_PATH pointing at it (settings reloaded)."""
    yield from _point_settings_at(small_world, monkeypatch)


@pytest.fixture
def writable_world_env(writable_world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """``writable_world`` with the warehouse settings pointing at the private copy."""
    yield from _point_settings_at(writable_world, monkeypatch)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RedisServer:
    """A real ``redis-server`` process started for the session; tests may ``stop()`` it (and ``start()`` again)."""

    url: str
    port: int
    workdir: Path
    proc: object = None

    def start(self) -> None:
        import subprocess
        import time

        import redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                if redis.Redis(port=self.port, socket_timeout=0.2).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()  # never leave a half-started server behind
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:  # type: ignore[attr-defined]
            self.proc.terminate()  # type: ignore[attr-defined]
            self.proc.wait(10)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real Redis (Debian's redis-server, no persistence) on a free port for the whole session."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server binary not found: install Debian's redis-server (make system-deps)")
    port = _free_port()
    server = RedisServer(f"redis://127.0.0.1:{port}/0", port, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def trained_registry(small_world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model registry with a promoted champion per lender, trained on ``small_world`` by the real training CLI.

    Read-only for tests: promote/rollback tests should copy it (``shutil.copytree``) first.
    """
    from decision_service.__main__ import main as decision_cli

    root = tmp_path_factory.mktemp("trained_registry") / "models"
    rc = decision_cli(["train", "--warehouse", str(small_world.replica), "--model-dir", str(root),
                       "--max-train-rows", "20000", "--max-oot-rows", "10000"])
    assert rc == 0, "training the small world's models failed"
    return root


@pytest.fixture(scope="session")
def backfilled_world(small_world: World, trained_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    """``small_world`` decided for real (backfill with the session's trained models: decisions, loans, repayments),
    monitored once (drift_metrics, alerts) and published as a read-only replica. Built once per session and shared
    by the copilot, evals and UI tests; read-only (copy it to write)."""
    from decision_service.backfill import run_backfill
    from decision_service.registry import ModelRegistry
    from warehouse.monitoring import run_monitoring

    root = tmp_path_factory.mktemp("backfilled_world")
    path, replica = root / "warehouse.duckdb", root / "replica.duckdb"
    shutil.copyfile(small_world.path, path)
    run_backfill(path, registry=ModelRegistry(trained_registry), progress=False, publish=False)
    with writer(path) as con:
        run_monitoring(con, progress=False, deliver=False)
        publish_replica(con, replica)
    return World(path, replica, small_world.days, small_world.per_day, small_world.seed, small_world.start_date,
                 small_world.scenarios)
