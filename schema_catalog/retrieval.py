"""Hybrid retrieval of a team's schema context for a question: vectors + keywords/synonyms + sample values.

Scores per document = cosine similarity (MiniLM, Chroma) + a synonym/keyword boost + a value-match boost; metric and
dimension hits then lift the columns they are computed from, and every hit lifts its table. The result carries the
join paths that connect the chosen tables and the top verified question->SQL examples. The model, the collections
and the per-team keyword/value indexes stay warm in the process (one :class:`Retriever` per index path).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process

from schema_catalog.catalog import Catalog, JoinStep, NoJoinPathError, build_catalog
from schema_catalog.embeddings import embed
from schema_catalog.index import load_samples, open_collection
from schema_catalog.settings import get_settings
from schema_catalog.teams import team_scope

_TOKEN = re.compile(r"[a-z0-9+]+")
_EXACT_VALUE_BOOST = 0.45
_FUZZY_VALUE_BOOST = 0.35
_PROPAGATE_TO_COLUMNS = 0.9
_PROPAGATE_TO_TABLES = 0.9


class EmptyQuestionError(ValueError):
    """The question is empty or only whitespace/punctuation."""


@dataclass(frozen=True)
class ValueMatch:
    """A literal of the question that names a value of a column, with the value's exact spelling."""

    table: str
    column: str
    value: str
    matched_text: str
    score: float


@dataclass(frozen=True)
class VerifiedExample:
    query_id: str
    question: str
    sql: str
    score: float


@dataclass(frozen=True)
class RetrievedContext:
    """What a planner or an LLM prompt needs for one question, all within the team's scope."""

    team: str
    question: str
    truncated: bool
    tables: list[str]
    columns: list[str]
    """Qualified ``table.column`` names, best first."""
    metrics: list[str]
    dimensions: list[str]
    joins: list[JoinStep]
    examples: list[VerifiedExample]
    values: list[ValueMatch]
    scores: dict[str, float] = field(repr=False, default_factory=dict)
    catalog: Catalog | None = field(repr=False, default=None)
    """The team's catalog slice, for descriptions, types and metric SQL of the retrieved items."""

    def to_prompt(self) -> str:
        """Compact schema context for an LLM prompt (descriptions, metric SQL, joins, values, examples)."""
        assert self.catalog is not None
        cat, lines = self.catalog, []
        for t in self.tables:
            cols = [c for c in self.columns if c.startswith(f"{t}.")]
            lines.append(f"TABLE {t}: {cat.tables[t].description}")
            for qc in cols:
                info = cat.column(*qc.split(".", 1))
                shown = (info.values or info.samples)[:12]
                extra = f" values: {', '.join(shown)}" if shown else ""
                lines.append(f"  {info.name} {info.type}: {info.description}{extra}")
        for name in self.metrics:
            m = cat.metrics[name]
            defs = "; ".join(f"{d.sql} FROM {d.table}" for d in m.definitions)
            lines.append(f"METRIC {name} ({m.label}): {defs}")
        lines += [f"JOIN {j.sql}" for j in self.joins]
        lines += [f"VALUE '{v.value}' is {v.table}.{v.column} (question says '{v.matched_text}')" for v in self.values]
        lines += [f"EXAMPLE Q: {e.question}\nSQL: {e.sql}" for e in self.examples]
        return "\n".join(lines)


def normalize(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower().replace("_", " ").replace("-", " ")))


def _stem(token: str) -> str:
    return token[:-1] if len(token) > 3 and token.endswith("s") and not token.endswith("ss") else token


def _tokens(text: str) -> list[str]:
    return [_stem(t) for t in normalize(text).split()]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


@dataclass
class _TeamState:
    catalog: Catalog
    collection: object
    count: int
    phrases: dict[str, list[list[str]]]
    values: list[tuple[str, str, str, str]]  # normalized, table, column, original
    fuzzy_values: list[tuple[str, str, str, str]]


class Retriever:
    """Warm retrieval over one index path: catalog slices, collections and value indexes are built once per team."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._full = build_catalog(load_samples(path))
        self._teams: dict[str, _TeamState] = {}
        self._lock = threading.Lock()

    def _state(self, team: str) -> _TeamState:
        with self._lock:
            if team not in self._teams:
                team_scope(team)  # unknown team -> UnknownTeamError before anything is opened
                self._teams[team] = self._build_state(team)
            return self._teams[team]

    def _build_state(self, team: str) -> _TeamState:
        cat = self._full.for_team(team)
        col = open_collection(self.path, team)
        phrases: dict[str, list[list[str]]] = {}
        for t in cat.tables.values():
            phrases[f"table:{t.name}"] = [_tokens(p) for p in (t.name, *t.synonyms)]
            for c in t.columns.values():
                phrases[f"column:{c.qualified}"] = [_tokens(p) for p in (c.name, *c.synonyms)]
        for m in cat.metrics.values():
            phrases[f"metric:{m.name}"] = [_tokens(p) for p in (m.name, m.label, *m.synonyms)]
        for d in cat.dimensions.values():
            phrases[f"dimension:{d.name}"] = [_tokens(p) for p in (d.name, d.label, *d.synonyms)]
        values = []
        for c in cat.columns():
            if c.pii:
                continue
            for v in dict.fromkeys([*c.values, *c.samples]):
                norm = normalize(v)
                if norm:
                    values.append((norm, c.table, c.name, v))
        fuzzy_values = [v for v in values if len(v[0]) >= 5]
        return _TeamState(cat, col, col.count(), phrases, values, fuzzy_values)

    def warm_up(self, team: str) -> None:
        self.retrieve("warm up", team)

    def match_values(self, question: str, team: str) -> list[ValueMatch]:
        """Question literals that equal (or nearly equal, by rapidfuzz ratio) a sample or allowed value."""
        return self._match_values(normalize(question), self._state(team))

    def _match_values(self, norm_q: str, st: _TeamState) -> list[ValueMatch]:
        words = norm_q.split()
        grams = {" ".join(words[i:i + n]) for n in range(1, 5) for i in range(len(words) - n + 1)}
        matches: dict[tuple[str, str, str], ValueMatch] = {}
        for norm, table, column, value in st.values:
            if norm in grams:
                matches[(table, column, value)] = ValueMatch(table, column, value, norm, 100.0)
        long_grams = [g for g in grams if len(g) >= 5]
        if long_grams and st.fuzzy_values:
            threshold = get_settings().fuzzy_threshold
            scores = process.cdist([v[0] for v in st.fuzzy_values], long_grams, scorer=fuzz.ratio,
                                   score_cutoff=threshold)
            for i, row in enumerate(scores):
                j = int(row.argmax())
                if row[j] >= threshold:
                    norm, table, column, value = st.fuzzy_values[i]
                    key = (table, column, value)
                    if key not in matches:
                        matches[key] = ValueMatch(table, column, value, long_grams[j], float(row[j]))
        return sorted(matches.values(), key=lambda m: (-m.score, m.table, m.column, m.value))

    def retrieve(self, question: str, team: str, k: int = 10) -> RetrievedContext:
        if k < 1:
            raise ValueError("k must be at least 1")
        st = self._state(team)
        limit = get_settings().max_question_chars
        truncated = len(question) > limit
        question = question[:limit]
        norm_q = normalize(question)
        if not norm_q:
            raise EmptyQuestionError("the question is empty; ask something about the data, e.g. 'approval rate by "
                                     "partner last month'")
        q_tokens = [_stem(t) for t in norm_q.split()]
        res = st.collection.query(query_embeddings=[embed([question])[0].tolist()], n_results=st.count,
                                  include=["metadatas", "distances"])
        scores: dict[str, float] = {}
        examples: list[VerifiedExample] = []
        for doc_id, meta, dist in zip(res["ids"][0], res["metadatas"][0], res["distances"][0], strict=True):
            sim = 1.0 - float(dist)
            if meta.get("kind") == "verified":
                examples.append(VerifiedExample(str(meta["query_id"]), "", str(meta["sql"]), sim))
                continue
            scores[doc_id] = sim
        for doc_id, phrase_list in st.phrases.items():
            best = max((len(p) for p in phrase_list if _contains(q_tokens, p)), default=0)
            if best:
                scores[doc_id] = scores.get(doc_id, 0.0) + min(0.15 + 0.1 * best, 0.45)
        values = self._match_values(norm_q, st)
        for vm in values:
            key = f"column:{vm.table}.{vm.column}"
            boost = _EXACT_VALUE_BOOST if vm.score >= 100 else _FUZZY_VALUE_BOOST
            scores[key] = scores.get(key, 0.0) + boost
            for d in st.catalog.dimensions.values():
                if any((vm.table, vm.column) in dd.columns for dd in d.definitions):
                    scores[f"dimension:{d.name}"] = scores.get(f"dimension:{d.name}", 0.0) + boost
        metrics = _top(scores, "metric:", k)
        dimensions = _top(scores, "dimension:", k)
        for name in [*metrics[:3], *dimensions[:3]]:
            obj = st.catalog.metrics.get(name) or st.catalog.dimensions.get(name)
            kind = "metric" if name in st.catalog.metrics else "dimension"
            lift = scores[f"{kind}:{name}"] * _PROPAGATE_TO_COLUMNS
            for t, c in obj.definitions[0].columns:
                key = f"column:{t}.{c}"
                scores[key] = max(scores.get(key, 0.0), lift)
        columns = _top(scores, "column:", k)
        table_scores = {t: scores.get(f"table:{t}", 0.0) for t in st.catalog.tables}
        for qc in columns:
            t = qc.split(".", 1)[0]
            table_scores[t] = max(table_scores[t], scores[f"column:{qc}"] * _PROPAGATE_TO_TABLES)
        for name in metrics[:3]:
            t = st.catalog.metrics[name].definitions[0].table
            table_scores[t] = max(table_scores[t], scores[f"metric:{name}"] * _PROPAGATE_TO_TABLES)
        for name in dimensions[:3]:
            t = st.catalog.dimensions[name].definitions[0].table
            if t in table_scores:
                table_scores[t] = max(table_scores[t], scores[f"dimension:{name}"] * _PROPAGATE_TO_TABLES)
        ranked = sorted(table_scores, key=lambda t: (-table_scores[t], t))
        tables = ranked[:k]
        joins = _connect(st.catalog, tables[: min(k, 4)])
        for j in joins:
            for t in (j.left_table, j.right_table):
                if t not in tables:
                    tables.append(t)
        examples = sorted(examples, key=lambda e: -e.score)[:3]
        if examples:
            got = st.collection.get(ids=[f"verified:{e.query_id}" for e in examples], include=["documents"])
            text = dict(zip(got["ids"], got["documents"], strict=True))
            examples = [VerifiedExample(e.query_id, text[f"verified:{e.query_id}"], e.sql, e.score) for e in examples]
        all_scores = {**scores, **{f"table:{t}": s for t, s in table_scores.items()}}
        return RetrievedContext(team, question, truncated, tables, columns, metrics, dimensions, joins, examples,
                                values, all_scores, st.catalog)


def _top(scores: dict[str, float], prefix: str, k: int) -> list[str]:
    items = [(s, key[len(prefix):]) for key, s in scores.items() if key.startswith(prefix)]
    return [name for _, name in sorted(items, key=lambda x: (-x[0], x[1]))[:k]]


def _connect(catalog: Catalog, tables: list[str]) -> list[JoinStep]:
    """Joins from the best table to each other chosen table it can reach within the team's scope."""
    if not tables:
        return []
    root, steps, joined = tables[0], [], {tables[0]}
    for t in tables[1:]:
        try:
            path = catalog.join_path(root, t)
        except NoJoinPathError:
            continue
        for step in path:
            if step.right_table not in joined:
                steps.append(step)
                joined.add(step.right_table)
    return steps


_retrievers: dict[Path, Retriever] = {}
_retrievers_lock = threading.Lock()


def get_retriever(path: Path | None = None) -> Retriever:
    """The process-wide warm retriever for ``path`` (default: the configured Chroma path)."""
    path = Path(path or get_settings().chroma_path).resolve()
    with _retrievers_lock:
        if path not in _retrievers:
            _retrievers[path] = Retriever(path)
        return _retrievers[path]


def clear_retrievers() -> None:
    """Forget warm retrievers (after re-indexing in the same process)."""
    with _retrievers_lock:
        _retrievers.clear()


def retrieve(question: str, team: str, k: int = 10, path: Path | None = None) -> RetrievedContext:
    """Top-``k`` tables, columns, metrics and dimensions for ``question`` within ``team``'s scope, with joins,
    verified examples and value matches. Unknown team -> UnknownTeamError; empty question -> EmptyQuestionError;
    missing/corrupt index -> IndexMissingError/IndexCorruptError naming the rebuild command."""
    team_scope(team)
    if not question or not question.strip():
        raise EmptyQuestionError("the question is empty; ask something about the data")
    return get_retriever(path).retrieve(question, team, k)
