"""Monitoring: daily drift metrics and alerts, and root-cause diagnostics of decision-rate changes.

Reads and writes the warehouse only (never imports decision_service). Public entry points:

* :func:`run_monitoring` - the daily job (idempotent per day) writing ``drift_metrics`` and ``alerts``;
* :func:`diagnose` - ranked, explained decomposition of a rate change between two windows;
* :func:`write_report` - JSON + HTML (Plotly) report of a :class:`Diagnosis`;
* :func:`metric_series`, :func:`recent_alerts` - read helpers for the dashboard.
"""

from warehouse.monitoring.alerts import alert_id, deliver
from warehouse.monitoring.diagnose import METRICS, Cause, Diagnosis, UnknownMetricError, Window, diagnose
from warehouse.monitoring.job import NoDecisionsError, compute_metrics
from warehouse.monitoring.queries import metric_series, recent_alerts
from warehouse.monitoring.report import write_report
from warehouse.monitoring.runner import MonitoringSummary, run_monitoring

__all__ = ["METRICS", "Cause", "Diagnosis", "MonitoringSummary", "NoDecisionsError", "UnknownMetricError", "Window",
           "alert_id", "compute_metrics", "deliver", "diagnose", "metric_series", "recent_alerts", "run_monitoring",
           "write_report"]
