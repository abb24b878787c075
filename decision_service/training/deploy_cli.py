"""CLI commands of the deployment workflow: ``gate``, ``promote``, ``rollback``, ``challenger``.

Exit codes: 0 done, 1 refused (failed gate without --force, nothing to roll back), 2 bad usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
from collections.abc import Callable
from pathlib import Path

from decision_service.training.cli import open_warehouse, registry_root

GATE_HELP = "compare a candidate with the champion on recent traffic, recalibrate thresholds, promote if it passes"
PROMOTE_HELP = "promote a registered version to champion (needs a passed gate when a champion exists, or --force)"
ROLLBACK_HELP = "re-instate the previous champion of a lender"
CHALLENGER_HELP = "shadow a version next to the champion (scored and logged, never deciding); --clear removes it"


def _policy_version(lender_id: str) -> str | None:
    try:
        from decision_service.policy import load_policy

        return load_policy(lender_id).version
    except Exception:
        return None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lender", required=True, help="lender id, e.g. L01")
    p.add_argument("--model-dir", type=Path, help="registry root (default: CREDIT_DECISION_MODEL_DIR)")


def gate_add_arguments(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--candidate", required=True, help="registered version to gate, e.g. v002")
    p.add_argument("--force", action="store_true", help="promote even if the gate fails (recorded as 'forced')")
    p.add_argument("--dry-run", action="store_true", help="evaluate and record the gate, do not promote")
    p.add_argument("--days", type=int, default=7, help="recent traffic: the last N days of the warehouse")
    p.add_argument("--max-rows", type=int, default=50_000, help="cap on recent applications scored")
    p.add_argument("--target-approve", type=float, help="approve rate to recalibrate to (default: champion's)")
    p.add_argument("--target-refer", type=float, help="refer rate to recalibrate to (default: champion's)")
    p.add_argument("--warehouse", type=Path, help="DuckDB file to read (default: the replica)")


def _refusals(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Typed registry/gate errors become one clear line and exit code 1 instead of a traceback."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        from decision_service.gate import GateError
        from decision_service.registry import RegistryError

        try:
            return fn(args)
        except (RegistryError, GateError) as exc:
            print(f"refused: {type(exc).__name__}: {exc}")
            return 1

    return run


@_refusals
def gate_main(args: argparse.Namespace) -> int:
    from decision_service.gate import gate_candidate
    from decision_service.registry import ModelRegistry
    from decision_service.training.data import load_sample, windows

    con = open_warehouse(args.warehouse)
    win = windows(con)
    start = max(win.world_start, win.world_end - dt.timedelta(days=args.days))
    sample = load_sample(con, args.lender, start, win.world_end, limit=args.max_rows, with_labels=False)
    registry = ModelRegistry(registry_root(args.model_dir))
    result, event = gate_candidate(
        registry, args.lender, args.candidate, sample.X, promote=not args.dry_run, force=args.force,
        policy_version=_policy_version(args.lender), target_approve=args.target_approve,
        target_refer=args.target_refer, traffic=f"{args.lender} applications {start} .. {win.world_end}",
    )
    print(f"gate {args.lender} {result.candidate_version} vs champion {result.champion_version} on {result.n_rows} "
          f"applications ({result.traffic})")
    print(f"{'decile':>6}{'champion':>10}{'candidate':>11}{'change':>9}")
    for d in result.deciles:
        print(f"{d['decile']:>6}{d['champion_mean_pd']:>10.4f}{d['candidate_mean_pd']:>11.4f}"
              f"{d['relative_change']:>+9.1%}{'  FLAGGED' if d['flagged'] else ''}")
    print(f"approve rate: champion {result.champion_rates['approve']:.1%}, candidate with champion thresholds "
          f"{result.candidate_rates_unmigrated['approve']:.1%}, with recalibrated thresholds "
          f"{result.candidate_rates['approve']:.1%}")
    print(f"recalibrated thresholds: {json.dumps(result.thresholds)}")
    print(f"gate {'PASSED' if result.passed else 'FAILED'} (max decile shift {result.max_shift:.1%})")
    if event is not None:
        print(f"promoted {args.lender} {args.candidate} to champion ({event['gate_result']})")
        return 0
    if args.dry_run:
        return 0 if result.passed else 1
    print("promotion refused: the gate failed (use --force to override, recorded as 'forced')")
    return 1


def promote_add_arguments(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--version", required=True)
    p.add_argument("--force", action="store_true")


@_refusals
def promote_main(args: argparse.Namespace) -> int:
    from decision_service.registry import GateNotPassedError, ModelRegistry

    registry = ModelRegistry(registry_root(args.model_dir))
    try:
        ev = registry.promote(args.lender, args.version, force=args.force,
                              policy_version=_policy_version(args.lender))
    except GateNotPassedError as exc:
        print(f"refused: {exc}")
        return 1
    print(f"{args.lender} champion is now {args.version} ({ev['gate_result']}), thresholds {ev['thresholds']}")
    return 0


def rollback_add_arguments(p: argparse.ArgumentParser) -> None:
    _common(p)


@_refusals
def rollback_main(args: argparse.Namespace) -> int:
    from decision_service.registry import ModelRegistry, NothingToRollBackError

    registry = ModelRegistry(registry_root(args.model_dir))
    try:
        ev = registry.rollback(args.lender, policy_version=_policy_version(args.lender))
    except NothingToRollBackError as exc:
        print(f"refused: {exc}")
        return 1
    print(f"{args.lender} rolled back to {ev['model_version']}, thresholds {ev['thresholds']}")
    return 0


def challenger_add_arguments(p: argparse.ArgumentParser) -> None:
    _common(p)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--version", help="version to shadow")
    g.add_argument("--clear", action="store_true", help="remove the challenger")


@_refusals
def challenger_main(args: argparse.Namespace) -> int:
    from decision_service.registry import ModelRegistry

    registry = ModelRegistry(registry_root(args.model_dir))
    registry.set_challenger(args.lender, None if args.clear else args.version,
                            policy_version=_policy_version(args.lender))
    print(f"{args.lender} challenger: {'none' if args.clear else args.version}")
    return 0
