"""Batch backfill of the synthetic world through the real-time decision code (see ``backfill.run``).

Public API::

    run_backfill(path=None, *, registry=None, policy_dir=None, days=None, batch_size=200_000, progress=True,
                 publish=True, replica_path=None) -> BackfillSummary
"""

from decision_service.backfill.run import BackfillError, BackfillSummary, run_backfill, world_info

__all__ = ["BackfillError", "BackfillSummary", "run_backfill", "world_info"]
