"""Follow-up questions: a conversation keeps the previous answer so "and by lender?" or "only last week" refine it.

The planner receives the previous plan and merges what the new turn adds (a dimension, a filter, a window); an LLM
receives the previous SQL. A new question that names its own metric starts afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from copilot.models import Answer
from copilot.pipeline import Copilot


@dataclass
class Conversation:
    copilot: Copilot
    team: str
    user: str = "anonymous"
    backend: str | None = None
    history: list[Answer] = field(default_factory=list)

    @property
    def last(self) -> Answer | None:
        """The last answer that produced rows (a refusal is not something to refine)."""
        return next((a for a in reversed(self.history) if a.rows is not None), None)

    def ask(self, question: str) -> Answer:
        answer = self.copilot.ask(question, self.team, self.user, backend=self.backend, previous=self.last)
        self.history.append(answer)
        return answer
