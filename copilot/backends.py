"""Build the configured backends from settings (lazy: a model is loaded only when first needed)."""

from __future__ import annotations

from functools import lru_cache

from copilot.llm.base import CaptionWriter, PlanFiller, SqlWriter
from copilot.settings import CopilotSettings


def openai_writer(settings: CopilotSettings) -> (SqlWriter | None):
    """The OpenAI-compatible SQL writer when an endpoint is configured, else None."""
    if not settings.openai_base_url:
        return None
    from copilot.llm.openai_backend import OpenAIBackend

    return OpenAIBackend(settings)


@lru_cache(maxsize=2)
def _local(path: str | None, n_ctx: int, n_threads: int) -> PlanFiller:
    from copilot.llm.local import LocalPlanFiller

    return LocalPlanFiller(path, n_ctx=n_ctx, n_threads=n_threads)


def local_filler(settings: CopilotSettings) -> PlanFiller:
    """The in-process llama.cpp plan filler (model loaded on first use, then kept warm)."""
    path = str(settings.local_model_path) if settings.local_model_path else None
    return _local(path, settings.local_n_ctx, settings.local_n_threads)


def caption_writer(writer: SqlWriter | None) -> CaptionWriter | None:
    return writer if isinstance(writer, CaptionWriter) else None
