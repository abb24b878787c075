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
_VECTOR_CANDIDATES = 100
_ROOT_METRIC_SCORE = 0.7  # cosine alone rarely passes 0.6; above this the metric was also named by a synonym
_TIME_BOOST = 0.25
# Words that ask for a time filter or a time axis: the time columns of the chosen tables are then needed in the SQL.
_TEMPORAL = frozenset(
    ["day", "daily", "week", "weekly", "month", "monthly", "quarter", "year", "yearly", "yesterday", "today", "last",
     "since", "when", "date", "trend", "recent", "time"]
)


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
        lines += [j.sql for j in self.joins]
        lines += [f"VALUE '{v.value}' is {v.table}.{v.column} (question says '{v.matched_text}')" for v in self.values]
        lines += [f"EXAMPLE Q: {e.question}\nSQL: {e.sql}" for e in self.examples]
        return "\n".join(lines)


def normalize(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower().replace("_", " ").replace("-", " ")))


def _stem(token: str) -> str:
    return token[:-1] if len(token) > 3 and token.endswith("s") and not token.endswith("ss") else token


def _tokens(text: str) -> list[str]:
    return [_stem(t) for t in normalize(text).split()]


@dataclass
class _TeamState:
    catalog: Catalog
    collection: object
    count: int
    phrases: dict[str, list[str]]
    """doc id -> its name/label/synonyms as space-padded stemmed token strings (substring test = phrase match)."""
    verified: dict[str, tuple[str, str]]
    """doc id -> (question, sql) of the team's verified examples, read once from the collection."""
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
        raw: dict[str, tuple[str, ...]] = {}
        for t in cat.tables.values():
            raw[f"table:{t.name}"] = (t.name, *t.synonyms)
            for c in t.columns.values():
                raw[f"column:{c.qualified}"] = (c.name, *c.synonyms)
        for m in cat.metrics.values():
            raw[f"metric:{m.name}"] = (m.name, m.label, *m.synonyms)
        for d in cat.dimensions.values():
            raw[f"dimension:{d.name}"] = (d.name, d.label, *d.synonyms)
        phrases = {key: [f" {' '.join(_tokens(p))} " for p in texts if _tokens(p)] for key, texts in raw.items()}
        got = col.get(where={"kind": "verified"}, include=["documents", "metadatas"])
        verified = {i: (doc, str(meta["sql"])) for i, doc, meta in
                    zip(got["ids"], got["documents"], got["metadatas"], strict=True)}
        values = []
        for c in cat.columns():
            if c.pii:
                continue
            for v in dict.fromkeys([*c.values, *c.samples]):
                norm = normalize(v)
                if norm:
                    values.append((norm, c.table, c.name, v))
        fuzzy_values = [v for v in values if len(v[0]) >= 5]
        return _TeamState(cat, col, col.count(), phrases, verified, values, fuzzy_values)

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

    @staticmethod
    def _lift_time_columns(st: _TeamState, scores: dict[str, float], metrics: list[str],
                           dimensions: list[str]) -> None:
        """A temporal question needs a date column: the top metrics' own time columns, then the date columns of the
        tables the question is most about."""
        for name in metrics[:3]:
            d = st.catalog.metrics[name].definitions[0]
            if d.time_column:
                key = f"column:{d.time_column}"
                scores[key] = max(scores.get(key, 0.0), scores[f"metric:{name}"] * _PROPAGATE_TO_COLUMNS)
        focus = {st.catalog.dimensions[n].definitions[0].table for n in dimensions[:3]}
        focus |= {qualified.split(".", 1)[0] for qualified in _top(scores, "column:", 5)}
        focus |= {st.catalog.metrics[n].definitions[0].table for n in metrics[:3]}
        for table in focus & set(st.catalog.tables):
            for col in st.catalog.tables[table].columns.values():
                if col.type.upper() in ("DATE", "TIMESTAMP"):
                    scores[f"column:{col.qualified}"] = scores.get(f"column:{col.qualified}", 0.0) + _TIME_BOOST

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
        q_text = f" {' '.join(_stem(t) for t in norm_q.split())} "
        # Distances only (metadata decoding dominated the query time); documents below the nearest
        # _VECTOR_CANDIDATES get the last candidate's similarity as a floor.
        res = st.collection.query(query_embeddings=[embed([question])[0].tolist()],
                                  n_results=min(st.count, _VECTOR_CANDIDATES), include=["distances"])
        sims = {i: 1.0 - float(d) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)}
        floor = min(sims.values(), default=0.0)
        scores = {doc_id: sims.get(doc_id, floor) for doc_id in st.phrases}
        examples = [VerifiedExample(i.split(":", 1)[1], q, sql, sims.get(i, floor)) for i, (q, sql) in
                    st.verified.items()]
        for doc_id, phrase_list in st.phrases.items():
            best = max((p.count(" ") - 1 for p in phrase_list if p in q_text), default=0)
            if best:
                scores[doc_id] += min(0.15 + 0.1 * best, 0.45)
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
        if any(t in _TEMPORAL for t in norm_q.split()):
            self._lift_time_columns(st, scores, metrics, dimensions)
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
        # Join only tables the question evidently needs (a top metric, dimension or column lives there): a table
        # ranked high on words alone (partner_lenders for "partner ... lender") would add a fan-out join.
        evidence = {st.catalog.metrics[n].definitions[0].table for n in metrics[:3]}
        evidence |= {st.catalog.dimensions[n].definitions[0].table for n in dimensions[:3]}
        evidence |= {qc.split(".", 1)[0] for qc in columns[:5]}
        needed = [t for t in tables if t in evidence][:4]
        if metrics and scores[f"metric:{metrics[0]}"] >= _ROOT_METRIC_SCORE:
            # a clearly named metric decides the FROM table; everything else is joined to it
            base = st.catalog.metrics[metrics[0]].definitions[0].table
            needed = [base, *(t for t in needed if t != base)]
        joins = _connect(st.catalog, needed)
        for j in joins:
            for t in (j.left_table, j.right_table):
                if t not in tables:
                    tables.append(t)
        examples = sorted(examples, key=lambda e: (-e.score, e.query_id))[:3]
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
