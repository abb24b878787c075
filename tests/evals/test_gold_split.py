"""The gold file loads and the dev/test split is a deterministic function of the (root) question id."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from evals.gold import DEV_BUCKETS, GoldSetError, load_gold, parse_gold, split_for_id


def test_gold_set_loads_with_the_documented_shape() -> None:
    gold = load_gold()
    assert sum(q.answerable for q in gold.questions) >= 200
    assert sum(not q.answerable for q in gold.questions) >= 40


@pytest.mark.parametrize("qid", ["a001", "c002", "u045", "zz-new"])
def test_split_is_sha256_of_the_id(qid: str) -> None:
    bucket = int.from_bytes(hashlib.sha256(qid.encode()).digest()[:8], "big") % 10
    assert split_for_id(qid) == ("dev" if bucket < DEV_BUCKETS else "test")


def test_split_is_the_same_in_a_fresh_process() -> None:
    """No dependence on hash randomisation or on process state."""
    ids = [q.id for q in load_gold().questions]
    code = "from evals.gold import split_for_id; import sys; print(''.join(split_for_id(i)[0] for i in sys.argv[1:]))"
    out = subprocess.run([sys.executable, "-c", code, *ids], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "".join(split_for_id(i)[0] for i in ids)


def test_split_sizes_and_disjointness() -> None:
    gold = load_gold()
    dev, test = gold.select("dev"), gold.select("test")
    assert not {q.id for q in dev} & {q.id for q in test}
    assert len(dev) + len(test) == len(gold.questions)
    assert 0.25 < len(dev) / len(gold.questions) < 0.55


def test_followups_stay_in_their_roots_split() -> None:
    gold = load_gold()
    followups = [q for q in gold.questions if q.followup_of]
    assert followups
    for q in followups:
        assert gold.split_of(q) == split_for_id(gold.root_of(q).id)


def test_selecting_a_followup_brings_its_root_first() -> None:
    gold = load_gold()
    q = next(q for q in gold.questions if q.followup_of)
    picked = gold.select("all", ids=[q.id])
    assert [p.id for p in picked] == [q.followup_of, q.id]


@pytest.mark.parametrize(("text", "message"), [
    ("questions: [{id: a, team: risk, q: x, topic: t}]", "needs gold SQL"),
    ("questions: [{id: a, team: risk, q: x, sql: SELECT 1, topic: t}, {id: a, team: risk, q: y, sql: SELECT 1, "
     "topic: t}]", "duplicate"),
    ("questions: [{id: b, team: risk, q: x, sql: SELECT 1, topic: t, followup_of: a}]", "unknown question"),
    ("questions: [{id: a, team: marketing, q: x, sql: SELECT 1, topic: t}]", "team"),
    ("nothing: here", "top-level 'questions'"),
])
def test_malformed_gold_files_are_refused_precisely(text: str, message: str) -> None:
    with pytest.raises(GoldSetError, match=message):
        parse_gold(text)
