"""MLflow tracking of `kedro run` (driver side only): `TrackingHooks`, registered in settings.py."""

from spark_lgbm_tuning.tracking.hooks import TrackingHooks, TrackingParams

__all__ = ["TrackingHooks", "TrackingParams"]
