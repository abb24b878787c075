"""Deny-by-default SQL guardrails: validation rules, PII masking by lineage and a sandboxed executor.

Knows nothing of LLMs and depends on sqlglot (and DuckDB for execution) only.
"""

from guardrails.errors import GuardrailError
from guardrails.pipeline import RULES, ValidatedQuery, validate
from guardrails.scope import Scope, make_scope

__all__ = ["RULES", "GuardrailError", "Scope", "ValidatedQuery", "make_scope", "validate"]
