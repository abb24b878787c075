"""The gold set: typed loading of ``evals/gold/questions.yaml`` and the dev/test split.

The split is a pure function of the question id (``sha256(id) % 10 < DEV_BUCKETS`` -> dev), so nobody chooses which
questions the planner may be tuned on, adding a question never moves another one, and every machine agrees. A
follow-up is asked in its root question's conversation, so it inherits the root's split (hash of the *root* id).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

GOLD_FILE = Path(__file__).with_name("gold") / "questions.yaml"
DEV_BUCKETS = 4
"""Buckets (out of 10) that go to dev: about 40% dev, 60% test."""

Split = Literal["dev", "test", "all"]
Expect = Literal["answer", "cannot_answer", "block"]
Team = Literal["risk", "growth", "partnerships"]


class GoldSetError(ValueError):
    """The gold file is malformed: duplicate ids, a follow-up of an unknown question, an answerable without SQL."""


class GoldQuestion(BaseModel):
    """One gold question (keys documented in evals/gold/README.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    team: Team
    q: str = Field(min_length=1)
    sql: str | None = None
    expect: Expect = "answer"
    ordered: bool = False
    followup_of: str | None = None
    tags: tuple[str, ...] = ()
    topic: str

    @model_validator(mode="after")
    def _sql_iff_answerable(self) -> GoldQuestion:
        if self.expect == "answer" and not (self.sql or "").strip():
            raise ValueError(f"{self.id}: an answerable question needs gold SQL")
        return self

    @property
    def answerable(self) -> bool:
        return self.expect == "answer"


@dataclass(frozen=True)
class GoldSet:
    questions: tuple[GoldQuestion, ...]

    def by_id(self) -> dict[str, GoldQuestion]:
        return {q.id: q for q in self.questions}

    def root_of(self, q: GoldQuestion) -> GoldQuestion:
        """The first question of ``q``'s conversation."""
        ids = self.by_id()
        while q.followup_of is not None:
            q = ids[q.followup_of]
        return q

    def split_of(self, q: GoldQuestion) -> Literal["dev", "test"]:
        return split_for_id(self.root_of(q).id)

    def select(self, split: Split = "all", ids: Iterable[str] | None = None) -> list[GoldQuestion]:
        """Questions of ``split`` (optionally only ``ids``), each follow-up kept after its root, file order."""
        wanted = set(ids) if ids is not None else None
        out = [q for q in self.questions if split == "all" or self.split_of(q) == split]
        if wanted is not None:
            # a wanted follow-up needs its conversation's earlier turns to be asked first
            keep = set()
            for q in out:
                if q.id in wanted:
                    cur: GoldQuestion | None = q
                    while cur is not None:
                        keep.add(cur.id)
                        cur = self.by_id().get(cur.followup_of) if cur.followup_of else None
            out = [q for q in out if q.id in keep]
        return out


def split_for_id(question_id: str) -> Literal["dev", "test"]:
    """dev or test, from the SHA-256 of the id alone."""
    bucket = int.from_bytes(hashlib.sha256(question_id.encode()).digest()[:8], "big") % 10
    return "dev" if bucket < DEV_BUCKETS else "test"


def parse_gold(text: str) -> GoldSet:
    """Parse and check a gold file's text."""
    raw = yaml.safe_load(text) or {}
    items = raw.get("questions") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise GoldSetError("the gold file needs a top-level 'questions' list")
    try:
        questions = tuple(GoldQuestion.model_validate(item) for item in items)
    except ValidationError as err:
        raise GoldSetError(str(err)) from None
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            raise GoldSetError(f"duplicate question id {q.id!r}")
        seen.add(q.id)
    for q in questions:
        if q.followup_of is not None and q.followup_of not in seen:
            raise GoldSetError(f"{q.id}: follow-up of unknown question {q.followup_of!r}")
    order = {q.id: i for i, q in enumerate(questions)}
    for q in questions:
        if q.followup_of is not None and order[q.followup_of] > order[q.id]:
            raise GoldSetError(f"{q.id}: a follow-up must come after {q.followup_of!r} in the file")
    return GoldSet(questions)


@lru_cache(maxsize=4)
def load_gold(path: Path = GOLD_FILE) -> GoldSet:
    """The gold set (cached per path)."""
    return parse_gold(Path(path).read_text(encoding="utf-8"))
