"""Benchmark: retrieval recall@k and per-question latency on the labelled question set.

    .venv/bin/python benchmarks/bench_retrieval.py                  # builds a small world + index in a temp dir
    .venv/bin/python benchmarks/bench_retrieval.py --chroma data/chroma --passes 5 --html artifacts/retrieval.html

Latency is wall time of one ``retrieve`` after each team is warmed up (model and collections loaded), reported as
median and p99 over ``passes`` x questions, next to the median of the embedding step alone measured in the same
run (the rest is Chroma, keyword and value matching). The machine is shared: the 1-minute load average is printed
with the numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schema_catalog.catalog import extract_samples  # noqa: E402
from schema_catalog.embeddings import embed  # noqa: E402
from schema_catalog.evaluation import evaluate, load_questions  # noqa: E402
from schema_catalog.index import build_index  # noqa: E402
from schema_catalog.retrieval import Retriever  # noqa: E402
from schema_catalog.verified import VerifiedQueryStore, replica_validator  # noqa: E402

QUESTIONS = ROOT / "tests" / "schema_catalog" / "retrieval_questions.yaml"


def _build(tmp: Path) -> Path:
    from warehouse.db import connect_reader, publish_replica, writer
    from warehouse.world import generate_world

    path, replica = tmp / "warehouse.duckdb", tmp / "replica.duckdb"
    generate_world(path, progress=False, days=30, per_day=1000, seed=7)
    with writer(path) as con:
        publish_replica(con, replica)
    con = connect_reader(replica)
    store = VerifiedQueryStore(tmp / "verified.duckdb")
    store.seed(replica_validator(con))
    samples = extract_samples(con)
    con.close()
    build_index(tmp / "chroma", samples, store.list())
    return tmp / "chroma"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chroma", type=Path, help="existing index (default: build one from a small world)")
    parser.add_argument("--passes", type=int, default=3, help="latency passes over the question set")
    parser.add_argument("--html", type=Path, help="write a Plotly latency histogram here")
    args = parser.parse_args()
    chroma = args.chroma or _build(Path(tempfile.mkdtemp(prefix="bench-retrieval-")))
    questions = load_questions(QUESTIONS)
    retriever = Retriever(chroma)
    for k in (5, 10):
        print(evaluate(retriever, questions, k).summary())
    latencies, embed_ms = [], []
    for _ in range(args.passes):
        result = evaluate(retriever, questions, 10)
        latencies += result.latencies_ms
        for q in questions:
            start = time.perf_counter()
            embed([q.question])
            embed_ms.append((time.perf_counter() - start) * 1000)
    ordered = sorted(latencies)
    p99 = ordered[round(0.99 * (len(ordered) - 1))]
    print(f"latency over {len(latencies)} retrievals: median {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms;"
          f" embedding alone median {statistics.median(embed_ms):.1f} ms "
          f"({statistics.median(embed_ms) / statistics.median(latencies):.0%} of retrieval); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.html:
        import plotly.graph_objects as go

        fig = go.Figure([go.Histogram(x=latencies, name="retrieve"), go.Histogram(x=embed_ms, name="embed only")])
        fig.update_layout(title="Retrieval latency per question (ms)", barmode="overlay", xaxis_title="ms")
        fig.update_traces(opacity=0.6)
        args.html.parent.mkdir(parents=True, exist_ok=True)
        fig.write_html(args.html)
        print(f"chart: {args.html}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
