"""The persistent Chroma index: one collection per team of table, column, metric, dimension and verified-query docs.

Incremental: every document carries the SHA-256 of its text and metadata; ``build_index`` re-embeds only new or
changed documents, deletes vanished ones, and embeds each distinct text once per run even when several teams share
it. The sample values read from the warehouse are stored next to the collections (``catalog_samples.json``) so
retrieval never needs a warehouse connection. A store Chroma cannot open is moved aside (never deleted) and rebuilt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chromadb
from chromadb.api.client import SharedSystemClient
from chromadb.config import Settings
from tqdm import tqdm

from schema_catalog.catalog import Catalog, build_catalog
from schema_catalog.embeddings import MiniLMEmbeddingFunction, embed
from schema_catalog.teams import load_teams
from schema_catalog.verified import VerifiedQuery

COLLECTION_PREFIX = "catalog_"
SAMPLES_FILE = "catalog_samples.json"
MANIFEST_FILE = "catalog_manifest.json"
REBUILD_COMMAND = "python -m schema_catalog index"


class IndexMissingError(FileNotFoundError):
    """No index (or no collection for the team) at the configured path."""


class IndexCorruptError(RuntimeError):
    """The Chroma store exists but cannot be read."""


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    metadata: dict[str, str | int | float | bool]

    @property
    def hash(self) -> str:
        payload = json.dumps([self.text, self.metadata], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class TeamIndexReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


@dataclass
class IndexReport:
    teams: dict[str, TeamIndexReport] = field(default_factory=dict)
    embedded: int = 0
    """Distinct texts sent to the model in this run."""
    recovered_from: Path | None = None
    """Where a corrupt store was moved before rebuilding, if it was."""

    def summary(self) -> str:
        lines = [f"{'team':<14}{'added':>7}{'updated':>9}{'unchanged':>11}{'deleted':>9}"]
        for team, r in self.teams.items():
            lines.append(f"{team:<14}{r.added:>7}{r.updated:>9}{r.unchanged:>11}{r.deleted:>9}")
        lines.append(f"texts embedded: {self.embedded}")
        if self.recovered_from:
            lines.append(f"corrupt index moved to {self.recovered_from} and rebuilt")
        return "\n".join(lines)


def collection_name(team: str) -> str:
    return f"{COLLECTION_PREFIX}{team}"


def open_client(path: Path) -> chromadb.ClientAPI:
    """A persistent client with telemetry off (the machine has no internet, and analysts' questions stay here)."""
    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=True))


def forget_clients() -> None:
    """Drop Chroma's per-process client cache (needed after a store was moved or deleted on disk)."""
    SharedSystemClient.clear_system_cache()


def _values_text(values: Iterable[str], limit: int = 25) -> str:
    vals = list(values)[:limit]
    return ", ".join(v.replace("_", " ") for v in vals)


def team_documents(catalog: Catalog, verified: Iterable[VerifiedQuery] = ()) -> list[Document]:
    """Documents of one team slice: only what the slice holds, so a team's collection cannot leak another's."""
    assert catalog.team is not None, "index team slices, never the full catalog"
    docs: list[Document] = []
    for t in catalog.tables.values():
        kind = "view" if t.is_view else "table"
        text = f"{kind} {t.name}: {t.description}"
        if t.synonyms:
            text += f" Also called: {', '.join(t.synonyms)}."
        text += f" Columns: {', '.join(t.columns)}."
        docs.append(Document(f"table:{t.name}", text, {"kind": "table", "table": t.name}))
        for c in t.columns.values():
            text = f"column {c.name.replace('_', ' ')} of {t.name}: {c.description}"
            if c.synonyms:
                text += f" Also called: {', '.join(c.synonyms)}."
            values = list(dict.fromkeys([*c.values, *c.samples]))
            if values:
                text += f" Values: {_values_text(values)}."
            docs.append(Document(f"column:{c.qualified}", text,
                                 {"kind": "column", "table": t.name, "column": c.name, "pii": c.pii}))
    for m in catalog.metrics.values():
        text = f"metric {m.label}: {m.description} Also called: {', '.join(m.synonyms)}."
        docs.append(Document(f"metric:{m.name}", text,
                             {"kind": "metric", "metric": m.name, "table": m.definitions[0].table}))
    for d in catalog.dimensions.values():
        text = f"dimension {d.label}: {d.description} Also called: {', '.join(d.synonyms)}."
        docs.append(Document(f"dimension:{d.name}", text,
                             {"kind": "dimension", "dimension": d.name, "table": d.definitions[0].table}))
    for q in verified:
        if q.status != "verified" or q.team != catalog.team:
            continue  # only validated pairs of this very team are ever retrievable
        docs.append(Document(f"verified:{q.query_id}", q.question,
                             {"kind": "verified", "query_id": q.query_id, "sql": q.sql, "verified_by": q.verified_by
                              or "", "verified_at": q.verified_at.isoformat() if q.verified_at else ""}))
    return docs


def _move_aside(path: Path) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    forget_clients()
    shutil.move(str(path), str(target))
    return target


def _existing_hashes(client: chromadb.ClientAPI, team: str) -> tuple[Any, dict[str, str]]:
    col = client.get_or_create_collection(
        collection_name(team), embedding_function=MiniLMEmbeddingFunction(), metadata={"hnsw:space": "cosine"}
    )
    got = col.get(include=["metadatas"])
    hashes = {i: str((m or {}).get("hash", "")) for i, m in zip(got["ids"], got["metadatas"] or [], strict=False)}
    return col, hashes


def build_index(path: Path, samples: dict[tuple[str, str], tuple[str, ...]] | None,
                verified: Iterable[VerifiedQuery] = (), teams: Iterable[str] | None = None,
                progress: bool = True) -> IndexReport:
    """Create or update the per-team collections at ``path``; only new or changed documents are embedded."""
    report = IndexReport()
    path.mkdir(parents=True, exist_ok=True)
    full = build_catalog(samples)
    team_names = list(teams) if teams is not None else sorted(load_teams())
    verified = list(verified)
    try:
        client = open_client(path)
        states = {team: _existing_hashes(client, team) for team in team_names}
    except Exception as err:  # Chroma raises many types for a damaged store (sqlite, rust bindings, pickle...)
        report.recovered_from = _move_aside(path)
        path.mkdir(parents=True, exist_ok=True)
        try:
            client = open_client(path)
            states = {team: _existing_hashes(client, team) for team in team_names}
        except Exception as again:
            raise IndexCorruptError(f"cannot create a Chroma store at {path}: {again}") from err
    plan: dict[str, tuple[list[Document], list[str]]] = {}
    to_embed: dict[str, str] = {}
    for team in team_names:
        col, hashes = states[team]
        docs = team_documents(full.for_team(team), verified)
        tr = report.teams.setdefault(team, TeamIndexReport())
        changed = []
        for doc in docs:
            old = hashes.get(doc.id)
            if old == doc.hash:
                tr.unchanged += 1
                continue
            if old is None:
                tr.added += 1
            else:
                tr.updated += 1
            changed.append(doc)
            to_embed.setdefault(hashlib.sha256(doc.text.encode()).hexdigest(), doc.text)
        stale = sorted(set(hashes) - {d.id for d in docs})
        tr.deleted = len(stale)
        plan[team] = (changed, stale)
    vectors: dict[str, list[float]] = {}
    keys = list(to_embed)
    batch = 64
    with tqdm(total=len(keys), desc="embedding catalog documents", unit="doc", disable=not progress) as bar:
        for start in range(0, len(keys), batch):
            chunk = keys[start:start + batch]
            for key, vec in zip(chunk, embed([to_embed[k] for k in chunk], cache=True), strict=True):
                vectors[key] = vec.tolist()
            bar.update(len(chunk))
    report.embedded = len(keys)
    for team, (changed, stale) in plan.items():
        col, _ = states[team]
        if stale:
            col.delete(ids=stale)
        if changed:
            col.upsert(
                ids=[d.id for d in changed],
                documents=[d.text for d in changed],
                metadatas=[{**d.metadata, "hash": d.hash} for d in changed],
                embeddings=[vectors[hashlib.sha256(d.text.encode()).hexdigest()] for d in changed],
            )
    for col in client.list_collections():
        name = col if isinstance(col, str) else col.name
        if name.startswith(COLLECTION_PREFIX) and name[len(COLLECTION_PREFIX):] not in load_teams():
            client.delete_collection(name)  # a team removed from teams.yaml must not stay retrievable
    (path / SAMPLES_FILE).write_text(json.dumps(
        [{"table": t, "column": c, "values": list(v)} for (t, c), v in sorted((samples or {}).items())], indent=1))
    (path / MANIFEST_FILE).write_text(json.dumps({
        "built_at": dt.datetime.now(dt.UTC).isoformat(),
        "teams": team_names,
        "documents": {t: sum(1 for _ in team_documents(full.for_team(t), verified)) for t in team_names},
        "model": MiniLMEmbeddingFunction.name(),
    }, indent=1))
    return report


def load_samples(path: Path) -> dict[tuple[str, str], tuple[str, ...]]:
    """Sample values stored by the last index build (empty when the build had no warehouse)."""
    file = path / SAMPLES_FILE
    if not file.is_file():
        raise IndexMissingError(f"no catalog index at {path}; build it with `{REBUILD_COMMAND}`")
    try:
        rows = json.loads(file.read_text())
        return {(r["table"], r["column"]): tuple(r["values"]) for r in rows}
    except (ValueError, KeyError, TypeError) as err:
        raise IndexCorruptError(f"{file} is damaged ({err}); rebuild with `{REBUILD_COMMAND}`") from err


def open_collection(path: Path, team: str) -> Any:
    """The team's collection, or a typed error that names the command to rebuild the index."""
    if not (path / MANIFEST_FILE).is_file():
        raise IndexMissingError(f"no catalog index at {path}; build it with `{REBUILD_COMMAND}`")
    try:
        client = open_client(path)
        names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
    except Exception as err:
        raise IndexCorruptError(f"catalog index at {path} cannot be read ({err}); rebuild with "
                                f"`{REBUILD_COMMAND}`") from err
    if collection_name(team) not in names:
        raise IndexMissingError(f"catalog index at {path} has no collection for team {team!r}; rebuild with "
                                f"`{REBUILD_COMMAND}`")
    try:
        col = client.get_collection(collection_name(team), embedding_function=MiniLMEmbeddingFunction())
        col.count()
    except Exception as err:
        raise IndexCorruptError(f"collection of team {team!r} cannot be read ({err}); rebuild with "
                                f"`{REBUILD_COMMAND}`") from err
    return col
