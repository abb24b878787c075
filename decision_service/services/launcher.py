"""``python -m decision_service serve``: the bureau simulator, the decision-log loader and the API as child processes.

Each piece is its own process because that is how they fail independently in production (the bureau is remote, the
loader is the warehouse's only writer). Shutdown order matters: the API first (uvicorn stops accepting, drains
in-flight requests and flushes the outbox), then the loader (loads the last records, publishes the replica), then
the simulator. A fresh development API key per partner is issued on every start and printed, never stored in clear.

The lead's run command can call :func:`start_services` and later ``Services.stop()`` to run this alongside the rest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from decision_service.services.auth import issue_dev_keys
from decision_service.services.decisions import Marketplace
from decision_service.settings import get_settings


@dataclass
class Services:
    """Handles of the child processes plus what a user needs to call them."""

    api_url: str
    bureau_url: str
    dev_keys: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    scratch: list[Path] = field(default_factory=list)

    def alive(self) -> dict[str, bool]:
        return {name: p.poll() is None for name, p in self.procs.items()}

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop API, then loader, then simulator, each with SIGTERM and a deadline (SIGKILL after it)."""
        for name in ("api", "loader", "bureau"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for path in self.scratch:
            shutil.rmtree(path, ignore_errors=True)


def api_command(host: str, port: int, workers: int = 1, *, graceful_s: int = 10) -> list[str]:
    """Arguments after ``python`` that run the decision API under uvicorn (tests and the benchmark use it too).

    ``workers > 1`` runs uvicorn's supervisor with that many worker processes on one listening socket; it restarts a
    worker that dies and forwards SIGTERM to all of them (each drains and flushes its own outbox segment)."""
    cmd = ["-m", "uvicorn", "--factory", "decision_service.api.main:app_factory", "--host", host, "--port",
           str(port), "--loop", "uvloop", "--http", "httptools", "--timeout-graceful-shutdown", str(graceful_s),
           "--no-access-log"]
    return [*cmd, "--workers", str(workers)] if workers > 1 else cmd


def api_env(base: Mapping[str, str], workers: int) -> tuple[dict[str, str], Path | None]:
    """Environment of the API processes, and a scratch directory to delete after them (or None).

    Several workers keep their Prometheus metrics in a shared directory (prometheus_client's multiprocess mode,
    switched on by ``PROMETHEUS_MULTIPROC_DIR`` before it is imported), so ``/metrics`` on any worker reports the
    whole service rather than the worker that happened to answer the scrape."""
    env = dict(base)
    if workers <= 1:
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return env, None
    metrics_dir = Path(tempfile.mkdtemp(prefix="decision-metrics-"))
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return env, metrics_dir


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Poll ``url`` until it answers 200; fail at once if ``proc`` exits, or after ``timeout_s`` (tests use it too)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with code {proc.returncode} before becoming healthy")
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not healthy after {timeout_s:.0f} s")


def start_services(*, host: str = "127.0.0.1", api_port: int = 8700, bureau_port: int = 8701,
                   loader: bool = True, bureau: bool = True, env: dict[str, str] | None = None,
                   log_dir: Path | None = None, workers: int | None = None) -> Services:
    """Start the children and wait until they answer; returns the handles, URLs and dev keys.

    ``workers``: API worker processes (default: the ``workers`` setting)."""
    from warehouse.settings import get_settings as warehouse_settings

    settings = get_settings()
    replica = warehouse_settings().replica_path
    bureau_url = f"http://{host}:{bureau_port}" if bureau else settings.bureau_url
    child_env = {**os.environ, **(env or {}), "CREDIT_DECISION_BUREAU_URL": bureau_url}
    keys = issue_dev_keys(settings.api_keys_path, sorted(Marketplace.load(replica).partner_lenders))
    services = Services(f"http://{host}:{api_port}", bureau_url, keys)

    workers = settings.workers if workers is None else workers
    if workers > 1 and not (child_env.get("CREDIT_DECISION_REDIS_URL") or settings.redis_url):
        raise ValueError("workers > 1 needs CREDIT_DECISION_REDIS_URL (the processes share state through Redis)")
    api_child_env, metrics_dir = api_env(child_env, workers)
    if metrics_dir is not None:
        services.scratch.append(metrics_dir)

    def spawn(name: str, args: list[str], proc_env: dict[str, str] = child_env) -> subprocess.Popen[bytes]:
        out = open(log_dir / f"{name}.log", "ab") if log_dir else None  # noqa: SIM115 - lives as long as the child
        proc = subprocess.Popen([sys.executable, *args], env=proc_env, stdout=out, stderr=out)
        services.procs[name] = proc
        return proc

    if log_dir:
        log_dir.mkdir(parents=True, exist_ok=True)
    try:
        if bureau:
            sim = spawn("bureau", ["-m", "decision_service.bureau.simulator", "--host", host, "--port",
                                   str(bureau_port), "--replica", str(replica)])
            wait_healthy(f"{bureau_url}/healthz", sim, 30)
        if loader:
            spawn("loader", ["-m", "decision_service.decision_log.loader"])
        api = spawn("api", api_command(host, api_port, workers), api_child_env)
        wait_healthy(f"{services.api_url}/healthz", api, 60)
    except BaseException:
        services.stop()
        raise
    return services


HELP = "Start the bureau simulator, the decision-log loader and the decision API (prints URLs and dev API keys)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700, help="API port")
    parser.add_argument("--bureau-port", type=int, default=8701)
    parser.add_argument("--no-loader", action="store_true", help="do not start the loader (another writer runs)")
    parser.add_argument("--no-bureau", action="store_true", help="use CREDIT_DECISION_BUREAU_URL instead")
    parser.add_argument("--workers", type=int, default=None,
                        help="API worker processes (default: CREDIT_DECISION_WORKERS, i.e. the workers setting)")


class _StopRequested(Exception):
    """Raised from the SIGTERM/SIGINT handler so start-up and the wait loop both unwind through cleanup."""


def _raise_stop(*_: object) -> None:
    raise _StopRequested


def main(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM or until a child dies; then stop the children in order."""
    signal.signal(signal.SIGTERM, _raise_stop)  # installed first: a stop during start-up must not orphan children
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        services = start_services(host=args.host, api_port=args.port, bureau_port=args.bureau_port,
                                  loader=not args.no_loader, bureau=not args.no_bureau, workers=args.workers)
    except _StopRequested:
        return 0
    try:
        print(f"decision API     {services.api_url}  (docs: {services.api_url}/docs, "
              f"metrics: {services.api_url}/metrics)")
        print(f"bureau simulator {services.bureau_url}")
        print("development API keys (send as X-API-Key; new ones on every start):")
        for partner, key in services.dev_keys.items():
            print(f"  {partner}: {key}")
        sys.stdout.flush()
        while True:
            dead = [name for name, ok in services.alive().items() if not ok]
            if dead:
                print(f"child process(es) exited: {', '.join(dead)}; shutting down", file=sys.stderr)
                break
            time.sleep(0.5)
    except _StopRequested:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finish the ordered shutdown undisturbed
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        services.stop()
    print("decision service stopped")
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m decision_service serve", description=HELP)
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
