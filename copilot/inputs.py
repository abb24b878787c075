"""Input checks shared by every interface: what counts as a usable question."""

from __future__ import annotations

import re

from copilot.errors import InvalidQuestionError


def check_question(question: object, max_chars: int) -> str:
    """Reject unusable questions with a precise code; returns the stripped question."""
    if not isinstance(question, str):
        raise InvalidQuestionError("the question must be text", code="invalid_question")
    text = question.strip()
    if not text or not re.search(r"\w", text):
        raise InvalidQuestionError("the question is empty; ask e.g. 'approval rate by partner last 7 days'",
                                   code="empty_question")
    if len(text) > max_chars:
        raise InvalidQuestionError(f"the question has {len(text):,} characters; the limit is {max_chars:,}",
                                   code="question_too_long")
    return text


def looks_english(text: str) -> bool:
    """True when most letters are Latin: the catalog, its synonyms and the prompts are English."""
    letters = [c for c in text if c.isalpha()]
    return not letters or sum(c.isascii() for c in letters) / len(letters) >= 0.7
