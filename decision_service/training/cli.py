"""``python -m decision_service train``: fit, validate, register and promote every lender's model."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

HELP = "train every lender's model (LightGBM + calibration), write reports, register and promote champions"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lenders", nargs="*", help="lender ids (default: every active lender)")
    p.add_argument("--if-missing", action="store_true", help="skip lenders that already have a champion")
    p.add_argument("--warehouse", type=Path, help="DuckDB file to read (default: the replica, else the writer file)")
    p.add_argument("--model-dir", type=Path, help="registry root (default: CREDIT_DECISION_MODEL_DIR)")
    p.add_argument("--max-train-rows", type=int, default=250_000, help="development-window sample per lender")
    p.add_argument("--max-oot-rows", type=int, default=100_000, help="out-of-time validation sample per lender")
    p.add_argument("--dev-days", type=int, default=14, help="length of the development window in days")
    p.add_argument("--overall-approve", type=float, default=None, help="marketplace approve share to aim for")
    p.add_argument("--no-promote", action="store_true", help="register only (promote later through the gate)")
    p.add_argument("--seed", type=int, default=0)


def open_warehouse(path: Path | None) -> Any:
    """Read-only connection: the given file, else the replica, else the writer file."""
    import duckdb

    from warehouse.settings import get_settings as warehouse_settings

    ws = warehouse_settings()
    candidates = [path] if path else [ws.replica_path, ws.path]
    for c in candidates:
        if c and Path(c).exists():
            return duckdb.connect(str(c), read_only=True)
    raise FileNotFoundError(
        f"no warehouse file among {[str(c) for c in candidates]}; run `python -m warehouse generate` first"
    )


def registry_root(path: Path | None) -> Path:
    from decision_service.settings import get_settings

    return Path(path or get_settings().model_dir)


def main(args: argparse.Namespace) -> int:
    from decision_service.registry import ModelRegistry
    from decision_service.training.data import lenders, windows
    from decision_service.training.pipeline import (
        OVERALL_APPROVE_TARGET,
        fit_lender,
        register_lender,
        solve_scale,
        thresholds_for,
    )

    t0 = time.perf_counter()
    con = open_warehouse(args.warehouse)
    registry = ModelRegistry(registry_root(args.model_dir))
    win = windows(con, args.dev_days)
    todo = [(lid, lt) for lid, lt in lenders(con) if not args.lenders or lid in args.lenders]
    if args.if_missing:
        todo = [(lid, lt) for lid, lt in todo if registry.deployment_state(lid).get("champion") is None]
    if not todo:
        print("nothing to train: every requested lender already has a champion")
        return 0
    fits = []
    for lid, lt in tqdm(todo, desc="training lenders", unit="lender"):
        fits.append(fit_lender(con, lid, lt, win, max_train_rows=args.max_train_rows,
                               max_oot_rows=args.max_oot_rows, seed=args.seed))
    target = args.overall_approve if args.overall_approve is not None else OVERALL_APPROVE_TARGET
    scale = solve_scale(fits, target)
    results = []
    for f in fits:
        promote = not args.no_promote and registry.deployment_state(f.lender_id).get("champion") is None
        results.append(register_lender(registry, f, thresholds_for(f, scale), promote=promote, scale=scale))
    print(f"\ndevelopment window {win.dev_start} .. {win.dev_end} (exclusive), out-of-time {win.oot_start} .. "
          f"{win.oot_end}; approve-target scale {scale:.3f}")
    print(f"{'lender':<7}{'version':<9}{'rows':>8}{'AUC oot':>9}{'KS oot':>8}{'approve<':>10}{'refer<':>9}"
          f"{'appr dev':>10}{'appr oot':>10}  promoted  top-5 drivers")
    for r in results:
        oot = r.metrics["out_of_time"]
        print(f"{r.lender_id:<7}{r.version:<9}{r.n_train:>8}{oot.get('auc', float('nan')):>9.3f}"
              f"{oot.get('ks', float('nan')):>8.3f}{r.thresholds.approve_below:>10.4f}{r.thresholds.refer_below:>9.4f}"
              f"{r.dev_rates['approve']:>10.1%}{r.oot_rates.get('approve', float('nan')):>10.1%}  "
              f"{'yes' if r.promoted else 'no':<9} {', '.join(r.metrics['driver_check']['top5'])}")
    n_dev = sum(f.n_window for f in fits)
    dev_share = sum(f.n_window * r.dev_rates["approve"] for f, r in zip(fits, results, strict=True)) / max(1, n_dev)
    oot_n = [len(f.oot) for f in fits]
    oot_share = sum(n * r.oot_rates.get("approve", 0.0) for n, r in zip(oot_n, results, strict=True)) / max(
        1, sum(oot_n))
    print(f"overall approve share: development {dev_share:.1%}, out-of-time {oot_share:.1%} "
          f"(same thresholds; the out-of-time window includes any new partner)")
    print(f"registry: {registry.root}   elapsed {time.perf_counter() - t0:.1f} s")
    return 0
