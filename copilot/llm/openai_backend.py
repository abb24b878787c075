"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp's server) as SQL writer and caption writer.

Servers differ in how they accept structured output, so the backend tries the methods real servers accept and
remembers the first one that works for the endpoint:

1. ``response_format={"type": "json_schema", ...}`` (OpenAI, vLLM; llama.cpp's server answers HTTP 500),
2. ``response_format={"type": "json_object", "schema": ...}`` (llama.cpp's server, Ollama),
3. function calling with the schema as the tool's parameters,
4. plain chat with the JSON instructions in the prompt (parsed strictly all the same).

``max_tokens`` is sent in ``extra_body`` too, because llama.cpp ignores ``max_completion_tokens``. The ``openai``
package is imported lazily so the copilot runs on machines without it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from copilot.errors import BackendUnavailableError, MalformedOutputError
from copilot.llm.base import CaptionWriter, SqlRequest, SqlWriter
from copilot.llm.prompts import SQL_SYSTEM, sql_user_prompt
from copilot.models import GENERATION_JSON_SCHEMA, GenerationOutput
from copilot.settings import CopilotSettings

METHODS = ("json_schema", "json_object", "function_calling", "prompt_only")


def extract_json(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (models wrap JSON in code fences or prose); MalformedOutputError if none."""
    cleaned = re.sub(r"^```(?:json)?|```$", "", text.strip(), flags=re.M).strip()
    try:
        value = json.loads(cleaned)
    except json.JSONDecodeError:
        start = cleaned.find("{")
        value = None
        while start != -1 and value is None:
            try:
                value, _ = json.JSONDecoder().raw_decode(cleaned[start:])
            except json.JSONDecodeError:
                start = cleaned.find("{", start + 1)
    if not isinstance(value, dict):
        raise MalformedOutputError("the model did not return a JSON object", raw=text)
    return value


class OpenAIBackend(SqlWriter, CaptionWriter):
    """SQL and caption writer over an OpenAI-compatible HTTP endpoint."""

    name = "openai"

    def __init__(self, settings: CopilotSettings) -> None:
        if not settings.openai_base_url:
            raise BackendUnavailableError("no OpenAI-compatible endpoint configured (CREDIT_COPILOT_OPENAI_BASE_URL)")
        try:
            import openai
        except ImportError as err:  # pragma: no cover - openai is a dependency
            raise BackendUnavailableError("the openai package is not installed") from err
        self._openai = openai
        self.settings = settings
        self.client = openai.OpenAI(
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key.get_secret_value(),
            timeout=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
        )
        self.method: str | None = None
        """The structured-output method that last worked for this endpoint (tried first next time)."""
        self.methods_tried: list[tuple[str, str]] = []

    # -- transport ---------------------------------------------------------------------------------------------------
    def _call(self, method: str, messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        kwargs: dict[str, Any] = {
            "model": self.settings.openai_model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": self.settings.openai_max_tokens,
            "extra_body": {"max_tokens": self.settings.openai_max_tokens},
        }
        if method == "json_schema":
            kwargs["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": "answer", "schema": schema, "strict": False}}
        elif method == "json_object":
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        elif method == "function_calling":
            kwargs["tools"] = [{"type": "function", "function": {"name": "answer", "parameters": schema,
                                                                 "description": "Return the answer."}}]
            kwargs["tool_choice"] = {"type": "function", "function": {"name": "answer"}}
        response = self.client.chat.completions.create(**kwargs)
        message = response.choices[0].message
        if method == "function_calling":
            calls = message.tool_calls or []
            if not calls:
                raise MalformedOutputError("the model did not call the answer function", raw=message.content or "")
            return calls[0].function.arguments
        return message.content or ""

    def complete_json(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> dict[str, Any]:
        """Structured JSON from the endpoint, falling back across methods the server rejects."""
        openai = self._openai
        order = [self.method] if self.method else []
        order += [m for m in METHODS if m != self.method]
        last: Exception | None = None
        for method in order:
            try:
                text = self._call(method, messages, schema)
            except (openai.APIConnectionError, openai.APITimeoutError) as err:
                raise BackendUnavailableError(f"LLM endpoint {self.settings.openai_base_url} unreachable: {err}") \
                    from err
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as err:
                raise BackendUnavailableError(f"LLM endpoint refused the request: {err}") from err
            except openai.APIStatusError as err:  # 400/422/500: this server does not support the method
                self.methods_tried.append((method, f"HTTP {err.status_code}"))
                last = err
                continue
            except MalformedOutputError as err:
                self.methods_tried.append((method, "no tool call"))
                last = err
                continue
            self.method = method
            return extract_json(text)
        if isinstance(last, MalformedOutputError):
            raise last
        raise BackendUnavailableError(f"the endpoint rejected every structured-output method: {self.methods_tried}")

    # -- capabilities ------------------------------------------------------------------------------------------------
    def generate_sql(self, request: SqlRequest) -> GenerationOutput:
        messages = [{"role": "system", "content": SQL_SYSTEM}, {"role": "user", "content": sql_user_prompt(request)}]
        data = self.complete_json(messages, GENERATION_JSON_SCHEMA)
        try:
            return GenerationOutput.model_validate(data)
        except ValidationError as err:
            raise MalformedOutputError(f"model output does not match the answer schema: {err.errors()[0]['msg']}",
                                       raw=json.dumps(data)) from err

    def write_caption(self, question: str, columns: list[str], rows: list[list[Any]]) -> str:
        preview = json.dumps({"columns": columns, "rows": rows[:20]}, default=str)
        messages = [
            {"role": "system", "content": "Write ONE sentence summarising the result for an analyst. Use only "
             "numbers that appear in the result, formatted as they appear or as percentages of rates. "
             'Answer with JSON: {"caption": "..."}'},
            {"role": "user", "content": f"Question: {question}\nResult: {preview}"},
        ]
        data = self.complete_json(messages, {"type": "object", "properties": {"caption": {"type": "string"}},
                                             "required": ["caption"]})
        caption = data.get("caption")
        if not isinstance(caption, str) or not caption.strip():
            raise MalformedOutputError("caption missing from model output", raw=json.dumps(data))
        return caption.strip()
