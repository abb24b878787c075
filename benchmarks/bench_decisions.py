"""Decision API benchmark against a real uvicorn process on 127.0.0.1 (not a timed test).

Measures, side by side in one run (timings on a shared 2-core machine are noisy, so each figure is the median of
``--repeats`` runs and throughput is quoted as a ratio to a trivial endpoint of the same server):

1. warm path (bureau report cached), partner P04 = 3 lenders: decisions/s with ``wrk`` vs ``GET /v1/ping``;
2. warm path latency at a fixed 200 requests/s (open loop, async httpx): p50 / p99;
3. cold path (simulator at 400-800 ms, every applicant new): p99 at a fixed 20 requests/s.

Models: real LightGBM champions (``--trees`` trees) trained on the training package's synthetic data, so the numbers
include real predict + TreeSHAP reason codes for the lenders that refer or decline.

Run: ``.venv/bin/python benchmarks/bench_decisions.py [--duration 10] [--repeats 3]`` (needs Debian's ``wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.decision_service.api.conftest import body_for, free_port, wait_http  # noqa: E402

WRK_LUA = """
local bodies = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
end
request = function()
  i = i + 1
  return wrk.format("POST", "/v1/decisions", {["Content-Type"] = "application/json", ["X-API-Key"] = "%KEY%"},
                    bodies[(i % #bodies) + 1])
end
"""


def build_registry(root: Path, trees: int) -> None:
    from decision_service.features import FEATURE_NAMES
    from decision_service.registry import ModelRegistry, Thresholds
    from decision_service.training import TrainParams, fit_model, make_artifact
    from decision_service.training.synthetic import synthetic_training_data

    X, y, _ = synthetic_training_data(20_000, seed=11)
    reg = ModelRegistry(root)
    for k, lid in enumerate(("L01", "L02", "L03", "L04", "L05")):
        fitted = fit_model(X, y, FEATURE_NAMES, TrainParams(num_trees=trees, seed=11 + k))
        art, meta = make_artifact(fitted, lid, Thresholds(0.06, 0.15), training_window={"start": "2025-01-01",
                                                                                        "end": "2025-01-15"})
        reg.promote(lid, reg.register(art, meta))


def wrk(url: str, duration: int, connections: int, script: Path | None = None, args: list[str] | None = None
        ) -> float:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(url)
    if args:
        cmd += ["--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"wrk saw {non2xx.group(1)} non-2xx responses:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


async def open_loop(url: str, key: str, rate: float, duration: float, bodies: list[dict]) -> tuple[list[float], int]:
    """Fire requests at a fixed rate regardless of answers (open loop); returns (latencies in s, failed requests).

    A failed request (non-200 or connection error) counts with an infinite latency, so it can only raise the p99.
    """
    lat: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, pool=None),
                                 limits=httpx.Limits(max_connections=400, max_keepalive_connections=400)) as c:
        async def one(body: dict) -> None:
            nonlocal errors
            t0 = time.perf_counter()
            try:
                r = await c.post("/v1/decisions", json=body, headers={"X-API-Key": key})
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            errors += not ok
            lat.append(time.perf_counter() - t0 if ok else float("inf"))

        tasks = []
        start = time.perf_counter()
        n = int(rate * duration)
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(bodies[i % len(bodies)])))
        await asyncio.gather(*tasks)
    return lat, errors


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--applicants", type=int, default=500, help="distinct (cached) applicants on the warm path")
    a = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench_decisions_"))
    procs: list[subprocess.Popen] = []
    try:
        t0 = time.time()
        build_registry(tmp / "models", a.trees)
        print(f"trained 5 x {a.trees}-tree models in {time.time() - t0:.1f} s")
        from decision_service.services.auth import issue_key

        key = issue_key(tmp / "keys.json", "P04")
        bport, aport = free_port(), free_port()
        env = {**os.environ, "CREDIT_DECISION_API_KEYS_PATH": str(tmp / "keys.json"),
               "CREDIT_DECISION_OUTBOX_DIR": str(tmp / "outbox"), "CREDIT_DECISION_MODEL_DIR": str(tmp / "models"),
               "CREDIT_DECISION_BUREAU_URL": f"http://127.0.0.1:{bport}", "CREDIT_DECISION_ACCESS_LOG": "false",
               "CREDIT_DECISION_RATE_LIMIT_PER_S": "1000000", "CREDIT_DECISION_RATE_LIMIT_BURST": "1000000",
               "CREDIT_WAREHOUSE_PATH": str(tmp / "w.duckdb"), "CREDIT_WAREHOUSE_REPLICA_PATH": str(tmp / "r.duckdb")}
        sim = subprocess.Popen([sys.executable, "-m", "decision_service.bureau.simulator", "--port", str(bport)],
                               cwd=REPO, env=env)
        procs.append(sim)
        api = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "decision_service.api.main:app_factory",
                                "--port", str(aport), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                                "--log-level", "warning"], cwd=REPO, env=env)
        procs.append(api)
        url = f"http://127.0.0.1:{aport}"
        wait_http(f"http://127.0.0.1:{bport}/healthz", sim)
        wait_http(f"{url}/healthz", api)

        warm = [body_for(i) for i in range(a.applicants)]

        async def prefetch() -> int:
            """Warm the cache for every applicant; a busy machine makes some bureau calls miss their budget, so
            each PAN is retried until its report is cached (else those decisions would take the cheap fallback
            path and flatter the warm-path numbers). Returns the PANs still not cached."""
            async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, pool=None),
                                         limits=httpx.Limits(max_connections=50)) as c:
                sem = asyncio.Semaphore(50)

                async def one(b: dict) -> bool:
                    async with sem:
                        for _ in range(8):
                            r = await c.post("/v1/prefetch", json={"pan": b["applicant"]["pan"]},
                                             headers={"X-API-Key": key})
                            r.raise_for_status()
                            if r.json()["cached"]:
                                return True
                            await asyncio.sleep(0.5)
                        return False

                ok = await asyncio.gather(*(one(b) for b in warm))
                return ok.count(False)

        t0 = time.time()
        missing = asyncio.run(prefetch())
        print(f"prefetched {len(warm)} bureau reports in {time.time() - t0:.1f} s ({missing} not cached)")
        bodies_file = tmp / "bodies.jsonl"
        bodies_file.write_text("\n".join(json.dumps(b) for b in warm) + "\n")
        script = tmp / "decide.lua"
        script.write_text(WRK_LUA.replace("%KEY%", key))
        wrk(f"{url}/v1/ping", 2, a.connections)  # warm-up of both paths
        wrk(url, 2, a.connections, script, [str(bodies_file)])

        ping, decide, ratio = [], [], []
        for _ in range(a.repeats):
            p = wrk(f"{url}/v1/ping", a.duration, a.connections)
            d = wrk(url, a.duration, a.connections, script, [str(bodies_file)])
            ping.append(p)
            decide.append(d)
            ratio.append(d / p)
        p50s, p99s, failed = [], [], 0
        for _ in range(a.repeats):
            lat, err = asyncio.run(open_loop(url, key, 200, a.duration, warm))
            failed += err
            p50s.append(pct(lat, 50) * 1000)
            p99s.append(pct(lat, 99) * 1000)
        cold_p99, cold_p50 = [], []
        for r in range(a.repeats):
            cold = [body_for(100_000 + r * 10_000 + i) for i in range(20 * a.duration)]
            lat, err = asyncio.run(open_loop(url, key, 20, a.duration, cold))
            failed += err
            cold_p50.append(pct(lat, 50) * 1000)
            cold_p99.append(pct(lat, 99) * 1000)
        mix = httpx.get(f"{url}/metrics").text
        decisions = {m.group(1): float(m.group(2)) for m in re.finditer(
            r'decisions_total\{decision="(\w+)",lender_id="L0[345]"\} ([\d.e+]+)', mix)}
        med = statistics.median
        print("\n=== decision API benchmark (medians of", a.repeats, "runs) ===")
        print(f"trivial endpoint /v1/ping      : {med(ping):8.0f} req/s   runs {[round(x) for x in ping]}")
        print(f"warm decisions (3 lenders)     : {med(decide):8.0f} dec/s   runs {[round(x) for x in decide]}")
        print(f"ratio decisions / trivial      : {med(ratio):8.3f}         (target >= 0.15)")
        print(f"warm @200 req/s  p50 / p99     : {med(p50s):6.1f} / {med(p99s):6.1f} ms (target p99 < 50 ms)")
        print(f"cold @20 req/s   p50 / p99     : {med(cold_p50):6.0f} / {med(cold_p99):6.0f} ms (target p99 < 1200)")
        print(f"failed open-loop requests      : {failed}")
        print(f"lender decision mix (L03-L05)  : {decisions}")
        print(f"load average during the run    : {os.getloadavg()}")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
