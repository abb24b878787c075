"""Fixtures of the monitoring tests: small worlds decided by the REAL backfill (decision_service.backfill) with the
session's trained models (``trained_registry``), so the monitoring job and the diagnostics run on the decisions the
product really makes, including the world's scenario stories (new partner, bureau format change, utilisation silently
zero, and the threshold misconfiguration the backfill records in model_deployments).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from warehouse.db import writer
from warehouse.monitoring.runner import run_monitoring

SCENARIO_WORLD = {"days": 24, "per_day": 800, "seed": 11}
"""Small single-story worlds: 24 days keeps every story's start date inside the window with >= 7 days before it."""


def _backfill(world_path: Path, registry: Path, root: Path) -> Path:
    """Copy a (read-only, shared) world and decide it with the REAL backfill and the session's trained models."""
    from decision_service.backfill import run_backfill
    from decision_service.registry import ModelRegistry

    path = root / "warehouse.duckdb"
    shutil.copyfile(world_path, path)
    run_backfill(path, registry=ModelRegistry(registry), progress=False, publish=False)
    return path


@pytest.fixture(scope="session")
def monitored_world(small_world, trained_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared default-scenario ``small_world``, backfilled by the real decision service, monitored once."""
    path = _backfill(small_world.path, trained_registry, tmp_path_factory.mktemp("monitored"))
    with writer(path) as con:
        run_monitoring(con, progress=False, deliver=False)
    return path


@pytest.fixture(scope="session")
def scenario_world(world_factory, trained_registry: Path, tmp_path_factory: pytest.TempPathFactory
                   ) -> Callable[[str], Path]:
    """Factory: a small world with exactly one story switched on, backfilled for real, built once per name.

    ``threshold_misconfig`` is applied by the backfill itself (a forced deployment with mis-set thresholds for one
    lender from the story's date, recorded in model_deployments).
    """
    cache: dict[str, Path] = {}

    def build(name: str) -> Path:
        if name not in cache:
            world = world_factory(scenarios=(name,), **SCENARIO_WORLD)
            cache[name] = _backfill(world.path, trained_registry, tmp_path_factory.mktemp(f"scenario_{name}"))
        return cache[name]

    return build


class _Hook(BaseHTTPRequestHandler):
    status = 200
    received: list[dict]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server on a free loopback port, recording every POSTed JSON body."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received, server.status = [], 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()
