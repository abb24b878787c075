"""Real processes for the API tests: the bureau simulator and the decision API under uvicorn, over real HTTP.

Models are real LightGBM models trained on the training package's synthetic data (small, so the session pays a few
seconds, not a world); the marketplace comes from the world's definition (no replica in these tests).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from decision_service.services.launcher import wait_healthy

REPO = Path(__file__).resolve().parents[3]

VALID_BODY: dict = {
    "partner_reference": "lead-1",
    "applicant": {
        "full_name": "Priya Sharma", "pan": "ABCPS1234K", "phone": "9876543210", "email": "priya.sharma@gmail.com",
        "date_of_birth": "1990-04-12", "gender": "female", "city": "Pune", "state": "Maharashtra",
        "pincode": "411001",
    },
    "application": {
        "requested_amount": 300000, "requested_tenure_months": 36, "purpose": "personal",
        "employment_type": "salaried", "monthly_income": 85000, "employer_tenure_months": 40, "existing_emi": 6500,
    },
}


def pan_for(i: int) -> str:
    """A distinct valid PAN per integer (so tests can make many different applicants)."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    a, b, c = letters[i % 26], letters[(i // 26) % 26], letters[(i // 676) % 26]
    return f"AB{a}{b}{c}{i % 10000:04d}K"


def body_for(i: int, **application: object) -> dict:
    body = {"applicant": {**VALID_BODY["applicant"], "pan": pan_for(i)},
            "application": {**VALID_BODY["application"], **application}}
    return body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


wait_http = wait_healthy
"""Tests wait for their servers exactly as the launcher does."""


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with a (small, real) champion model for every lender."""
    from decision_service.features import FEATURE_NAMES
    from decision_service.registry import ModelRegistry, Thresholds
    from decision_service.training import TrainParams, fit_model, make_artifact
    from decision_service.training.synthetic import synthetic_training_data

    root = tmp_path_factory.mktemp("models")
    X, y, _ = synthetic_training_data(3000, seed=5)
    fitted = fit_model(X, y, FEATURE_NAMES, TrainParams(num_trees=40, seed=5))
    reg = ModelRegistry(root)
    for lid in ("L01", "L02", "L03", "L04", "L05"):
        art, meta = make_artifact(fitted, lid, Thresholds(0.08, 0.2), training_window={"start": "2025-01-01",
                                                                                         "end": "2025-01-15"})
        reg.promote(lid, reg.register(art, meta))
    return root


@dataclass
class Bureau:
    url: str
    proc: subprocess.Popen

    def configure(self, **cfg: object) -> None:
        base = {"latency_min_ms": 5, "latency_max_ms": 15, "failure_rate": 0.0, "outage": "none",
                "format_change": False}
        httpx.put(f"{self.url}/admin/config", json={**base, **cfg}, timeout=5).raise_for_status()

    def requests(self) -> int:
        return int(httpx.get(f"{self.url}/admin/config", timeout=5).json()["requests"])


@pytest.fixture(scope="module")
def bureau() -> Iterator[Bureau]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "decision_service.bureau.simulator", "--port", str(port),
                             "--latency-min-ms", "5", "--latency-max-ms", "15"], cwd=REPO)
    b = Bureau(f"http://127.0.0.1:{port}", proc)
    try:
        wait_http(f"{b.url}/healthz", proc)
        yield b
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class ApiServer:
    """A uvicorn process running the decision API with its own outbox, keys file and settings."""

    root: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def start(self) -> ApiServer:
        log = open(self.root / f"api-{self.port}.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "decision_service.api.main:app_factory", "--port",
             str(self.port), "--loop", "uvloop", "--http", "httptools", "--timeout-graceful-shutdown", "5"],
            cwd=REPO, env=self.env, stdout=log, stderr=log)
        wait_http(f"{self.url}/healthz", self.proc)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def outbox_records(self) -> list[dict]:
        from decision_service.decision_log.outbox import iter_records, list_segments

        return [rec for seg in [*list_segments(self.outbox, archived=True), *list_segments(self.outbox)]
                for _, rec in iter_records(seg)]


def make_server(root: Path, model_dir: Path, bureau_url: str, **settings: object) -> ApiServer:
    """Configure (but do not start) an API server; dev keys are issued for P01 (5 lenders) and P04 (3 lenders)."""
    from decision_service.services.auth import issue_key

    root.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CREDIT_DECISION_API_KEYS_PATH": str(root / "keys.json"),
        "CREDIT_DECISION_OUTBOX_DIR": str(root / "outbox"),
        "CREDIT_DECISION_MODEL_DIR": str(model_dir),
        "CREDIT_DECISION_BUREAU_URL": bureau_url,
        "CREDIT_DECISION_ACCESS_LOG": "false",
        "CREDIT_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "CREDIT_WAREHOUSE_REPLICA_PATH": str(root / "replica.duckdb"),
        "HF_HUB_OFFLINE": "1",
    }
    for k, v in settings.items():
        env[f"CREDIT_DECISION_{k.upper()}"] = str(v)
    server = ApiServer(root, env)
    server.keys = {p: issue_key(root / "keys.json", p) for p in ("P01", "P04")}
    return server


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, model_dir: Path, bureau: Bureau) -> Iterator[ApiServer]:
    server = make_server(tmp_path_factory.mktemp("api"), model_dir, bureau.url).start()
    try:
        yield server
    finally:
        server.stop()
