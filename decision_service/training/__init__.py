"""Training of the per-lender underwriting models: fit, calibrate, validate, register.

Public API::

    fit_model(X, y, feature_names, params=TrainParams()) -> FittedModel
    choose_thresholds(pd, approve_rate, refer_rate, eligible=None) -> Thresholds
    validation_report(fitted, X, y, ...) -> dict      (training.report)
    train_lender(con, registry, lender_id, ...) -> TrainResult   (training.pipeline)
"""

from decision_service.training.model import FittedModel, TrainParams, choose_thresholds, fit_model, make_artifact

__all__ = ["FittedModel", "TrainParams", "choose_thresholds", "fit_model", "make_artifact"]
