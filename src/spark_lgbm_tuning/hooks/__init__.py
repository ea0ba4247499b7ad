"""The project's hooks, registered in settings.py; each class is one concern.

- `spark.SparkHooks`: the SparkSession of conf/<env>/spark.yml, started only when a node of the
  run needs it (spark/session.py holds the conf, the checks and the building).
- `run_guards.RunGuardHooks`: missing inputs fail the run before it starts; SIGINT/SIGTERM stop
  it cleanly. `run_guards.StoreLockHooks`: takes the lock of the run's trial stores before Spark
  starts.
- `run_env.RunEnvironmentHooks`: tells the report's `run_environment` dataset the run's Kedro
  env. `run_env.SkippedConfigHooks`: warns of conf/local parameter files that a run in another
  env skips.
- `report_location.ReportLocationHooks`: ends a run that wrote the HTML report by logging where
  it is.
"""
