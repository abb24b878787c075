"""Which join paths are safe to aggregate over: the fan-out rule shared by the copilot's planner and the catalog check.

A join step that follows a reference from the referencing table to the referenced one (``decisions.lender_id ->
lenders.lender_id``) is many-to-one: every left row meets at most one right row, so sums and counts stay right. The
same reference walked backwards (``lenders.lender_id -> alerts.lender_id``) is one-to-many: one lender has many
alerts, every decision row is repeated once per alert, and the metric is silently inflated (and on a big warehouse the
intermediate join can exhaust memory). The copilot refuses such paths when it plans a question; the catalog check
skips the same combinations instead of executing them. The rule lives here, below both, so that they can never
disagree (dependencies point ui -> copilot -> schema_catalog).
"""

from __future__ import annotations

from collections.abc import Iterable

from schema_catalog.catalog import Catalog, JoinStep, NoJoinPathError


class FanOutJoinError(NoJoinPathError):
    """The cheapest join path between two tables contains a one-to-many step (it would multiply the rows).

    A subclass of :class:`NoJoinPathError` because for a planner the two mean the same: these tables are not
    combinable. ``step`` is the first offending step, ``path`` the whole refused path.
    """

    def __init__(self, start: str, goal: str, step: JoinStep, path: list[JoinStep]) -> None:
        super().__init__(
            f"the join path {start} -> {goal} fans out at {step.left_table}.{step.left_column} -> "
            f"{step.right_table}.{step.right_column} (one {step.left_table} row has many {step.right_table} rows)"
        )
        self.start, self.goal, self.step, self.path = start, goal, step, path


def is_many_to_one(catalog: Catalog, step: JoinStep) -> bool:
    """Whether ``step`` follows its reference forwards (the left column references the right one), so it never
    multiplies the left table's rows. Pure: reads only the catalog's column references."""
    return catalog.column(step.left_table, step.left_column).references == f"{step.right_table}.{step.right_column}"


def first_fan_out(catalog: Catalog, path: Iterable[JoinStep]) -> JoinStep | None:
    """The first one-to-many step of ``path``, or None when every step is many-to-one."""
    return next((step for step in path if not is_many_to_one(catalog, step)), None)


def many_to_one_path(catalog: Catalog, start: str, goal: str) -> list[JoinStep]:
    """The catalog's cheapest join path from ``start`` to ``goal`` if every step is many-to-one.

    Raises :class:`NoJoinPathError` when there is no path and :class:`FanOutJoinError` when the cheapest path fans
    out. A longer many-to-one detour is deliberately not searched for: the copilot refuses rather than guesses.
    """
    path = catalog.join_path(start, goal)
    step = first_fan_out(catalog, path)
    if step is not None:
        raise FanOutJoinError(start, goal, step, path)
    return path
