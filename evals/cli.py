"""``python -m evals``: run the gold set, record or check the gate baseline, run external benchmarks, show the split.

Exit codes: 0 done (or gate passed), 1 gate failed, 2 bad input or missing prerequisite (typed error, message printed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evals.gold import load_gold
from evals.settings import get_settings

BACKENDS = ("auto", "semantic", "local", "openai")


def _replica(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    from warehouse.settings import get_settings as warehouse_settings

    return Path(warehouse_settings().replica_path)


def _limit_conversations(gold, questions, limit: int | None):  # type: ignore[no-untyped-def]
    """The first ``limit`` questions, never cutting a conversation after its root."""
    if limit is None:
        return questions
    from evals.runner import conversations

    out: list = []
    for convo in conversations(gold, questions):
        if len(out) >= limit:
            break
        out += convo
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from evals.report import write_reports
    from evals.runner import run_questions
    from evals.scoring import scoreboard
    from evals.world import world_info

    replica = _replica(args.replica)
    if not replica.exists():
        print(f"error: no replica at {replica} (set CREDIT_WAREHOUSE_REPLICA_PATH or --replica)", file=sys.stderr)
        return 2
    gold = load_gold()
    questions = _limit_conversations(gold, gold.select(args.split, ids=args.ids or None), args.limit)
    out = Path(args.out) if args.out else get_settings().out_dir
    info = world_info(replica)
    boards, results = [], {}
    for backend in args.backend:
        rs = run_questions(questions, backend=backend, replica=replica, out_dir=out, gold_set=gold,
                           use_retrieval=not args.no_retrieval)
        results[backend] = rs
        boards.append(scoreboard(rs, backend=backend, split=args.split, world=info))
    paths = write_reports(boards, results, out, name=args.name)
    for b in boards:
        m = b.overall
        print(f"[{b.backend}] {m.n} questions: execution accuracy {m.execution_accuracy} ({m.correct}/{m.scored}), "
              f"abstention precision {m.abstention_precision} recall {m.abstention_recall}, leaks {m.leaks}, "
              f"p50 {m.latency_p50_ms} ms, p95 {m.latency_p95_ms} ms")
    print("reports: " + ", ".join(str(p) for p in paths.values()))
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from evals.gate import record_baseline

    s = get_settings()
    replica = _replica(args.replica)
    out = Path(args.out) if args.out else s.out_dir
    entry = record_baseline(replica, out, s.baseline_path, args.size or s.gate_size)
    print(f"baseline recorded in {s.baseline_path}: execution accuracy {entry['execution_accuracy']} on "
          f"{entry['scored']} questions, leaks {entry['leaks']}")
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from evals.gate import BaselineMissingError, check_gate

    s = get_settings()
    out = Path(args.out) if args.out else s.out_dir
    try:
        result = check_gate(_replica(args.replica), out, s.baseline_path, args.size or s.gate_size, s.gate_tolerance)
    except BaselineMissingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0 if result.passed else 1


def cmd_external(args: argparse.Namespace) -> int:
    from evals.external import DatasetMissingError, run_external

    s = get_settings()
    out = Path(args.out) if args.out else s.out_dir
    try:
        summary = run_external(args.dataset, backends=args.backend, datasets_dir=s.datasets_dir, out_dir=out,
                               limit=args.limit)
    except DatasetMissingError as err:
        print(f"skipped: {err}")
        return 0
    print(summary)
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    gold = load_gold()
    for split in ("dev", "test"):
        qs = gold.select(split)
        print(f"{split}: {len(qs)} questions ({sum(q.answerable for q in qs)} answerable)")
        if args.verbose:
            print("  " + " ".join(q.id for q in qs))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="score the gold set with one or more backends")
    run.add_argument("--backend", action="append", choices=BACKENDS, help="repeatable; default semantic")
    run.add_argument("--split", choices=["dev", "test", "all"], default="test")
    run.add_argument("--limit", type=int, default=None, help="first N questions (whole conversations)")
    run.add_argument("--ids", nargs="*", help="only these question ids (and their conversations' roots)")
    run.add_argument("--out", default=None, help="output folder (default artifacts/evals)")
    run.add_argument("--name", default="scoreboard", help="report file stem")
    run.add_argument("--replica", default=None, help="replica file (default CREDIT_WAREHOUSE_REPLICA_PATH)")
    run.add_argument("--no-retrieval", action="store_true", help="catalog slice only, no Chroma index")
    run.set_defaults(func=cmd_run)
    for name, func, text in (("baseline", cmd_baseline, "record the gate baseline for this world"),
                             ("gate", cmd_gate, "run the gate subset against the recorded baseline")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--replica", default=None)
        p.add_argument("--out", default=None)
        p.add_argument("--size", type=int, default=None, help="answerable questions in the subset")
        p.set_defaults(func=func)
    ext = sub.add_parser("external", help="run a public text-to-SQL benchmark")
    ext.add_argument("--dataset", choices=["duckdb-nsql", "spider-dk"], required=True)
    ext.add_argument("--backend", action="append", choices=["semantic", "local"])
    ext.add_argument("--limit", type=int, default=None)
    ext.add_argument("--out", default=None)
    ext.set_defaults(func=cmd_external)
    split = sub.add_parser("split", help="show the dev/test split")
    split.add_argument("-v", "--verbose", action="store_true")
    split.set_defaults(func=cmd_split)
    args = parser.parse_args(argv)
    if getattr(args, "backend", None) is None and args.command in ("run", "external"):
        args.backend = ["semantic"]
    return int(args.func(args))
