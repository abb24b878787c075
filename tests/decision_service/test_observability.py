"""The metrics tally: deferred updates must give exactly what direct Prometheus updates give."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from decision_service.observability import Tally

BUCKETS = (0.001, 0.01, 0.1, 1.0, 5.0)


def _pair() -> tuple[CollectorRegistry, CollectorRegistry]:
    return CollectorRegistry(), CollectorRegistry()


@pytest.mark.parametrize("values", [
    [0.0005, 0.001, 0.0011, 0.5, 1.0, 4.9, 5.0, 5.1, 100.0],  # on, just above and past every bound
    [random.Random(7).expovariate(20) for _ in range(2_000)],
    [math.nan, 0.2, math.inf, -1.0],  # NaN lands in no bucket, as with observe(); inf only in +Inf
    [],
])
def test_tallied_histogram_equals_direct_observe(values: list[float]) -> None:
    direct_reg, tally_reg = _pair()
    direct = Histogram("lat", "x", ["stage"], buckets=BUCKETS, registry=direct_reg)
    tallied = Histogram("lat", "x", ["stage"], buckets=BUCKETS, registry=tally_reg)
    tally = Tally()
    for v in values:
        direct.labels("scoring").observe(v)
        tally.observe(tallied, v, "scoring")
    tally.flush()
    assert _exposition(tally_reg) == _exposition(direct_reg)
    assert _exposition(tally_reg)  # the comparison covered real lines


def _exposition(registry: CollectorRegistry) -> list[bytes]:
    """The text exposition without the ``_created`` timestamps (the two metrics were created at different times)."""
    return [line for line in generate_latest(registry).splitlines() if b"_created" not in line]


def test_tallied_counter_sums_per_label_set_and_flushes_once() -> None:
    direct_reg, tally_reg = _pair()
    direct = Counter("decisions", "x", ["lender", "decision"], registry=direct_reg)
    tallied = Counter("decisions", "x", ["lender", "decision"], registry=tally_reg)
    tally = Tally()
    for i in range(300):
        labels = (f"L0{i % 3}", ("approve", "refer", "decline")[i % 7 % 3])
        direct.labels(*labels).inc(1 + i % 2)
        tally.inc(tallied, *labels, amount=1 + i % 2)
    assert tally_reg.get_sample_value("decisions_total", {"lender": "L00", "decision": "approve"}) is None
    tally.flush()
    tally.flush()  # nothing pending: a second flush changes nothing
    for lender in ("L00", "L01", "L02"):
        for decision in ("approve", "refer", "decline"):
            labels = {"lender": lender, "decision": decision}
            assert tally_reg.get_sample_value("decisions_total", labels) == direct_reg.get_sample_value(
                "decisions_total", labels)


def test_tally_flushes_itself_when_too_much_is_pending() -> None:
    reg = CollectorRegistry()
    c = Counter("hits", "x", registry=reg)
    tally = Tally(max_pending=10)
    for _ in range(9):
        tally.inc(c)
    assert reg.get_sample_value("hits_total") == 0
    tally.inc(c)  # the 10th pending update writes all ten
    assert reg.get_sample_value("hits_total") == 10
