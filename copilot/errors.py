"""Typed copilot errors.

Every failure the copilot can report carries a stable ``code`` (used by the CLI exit message and the HTTP error
shape) and an optional ``field``; nothing is ever returned as a bare string.
"""

from __future__ import annotations


class CopilotError(Exception):
    """Base class: ``code`` is stable and machine-readable, ``status`` is the HTTP status it maps to."""

    code = "copilot_error"
    status = 500
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class InvalidQuestionError(CopilotError):
    """The question itself is unusable (empty, too long, not text)."""

    code = "invalid_question"
    status = 422
    field = "question"

    def __init__(self, message: str, *, code: str = "invalid_question") -> None:
        super().__init__(message, field="question")
        self.code = code


class UnknownTeamError(CopilotError):
    code = "unknown_team"
    status = 404
    field = "team"


class BackendUnavailableError(CopilotError):
    """A configured backend cannot be reached or loaded (endpoint down, model file missing)."""

    code = "backend_unavailable"
    status = 503


class MalformedOutputError(CopilotError):
    """A model answered, but not with JSON matching the expected schema."""

    code = "malformed_model_output"
    status = 502

    def __init__(self, message: str, *, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw[:2000]


class PlanCompileError(CopilotError):
    """A semantic plan names something the team's catalog cannot compile (unknown metric, unreachable dimension)."""

    code = "plan_not_compilable"
    status = 422


class AuthError(CopilotError):
    code = "unauthorized"
    status = 401


class ForbiddenTeamError(CopilotError):
    code = "forbidden"
    status = 403
    field = "team"


class FeedbackError(CopilotError):
    """Feedback could not be stored (the SQL fails the guardrails, or the answer has nothing to verify)."""

    code = "feedback_rejected"
    status = 422

    def __init__(self, message: str, *, field: str | None = "sql") -> None:
        super().__init__(message, field=field)
