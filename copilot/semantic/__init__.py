"""The deterministic semantic planner: question -> :class:`~copilot.models.SemanticPlan` -> SQL (via sqlglot)."""
