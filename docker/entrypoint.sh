#!/bin/sh
# Every container of the project image starts here (Dockerfile ENTRYPOINT). It writes the Spark
# defaults that the master, the workers and the driver must share, then runs the service's command.
#
# spark-defaults.conf in SPARK_CONF_DIR is read by spark-class (master, worker) and by
# spark-submit (the driver that pyspark launches), so one file covers all three.
set -eu

conf_dir="${SPARK_CONF_DIR:?SPARK_CONF_DIR is not set (the Dockerfile sets it)}"
mkdir -p "$conf_dir"
defaults="$conf_dir/spark-defaults.conf"

# Rewritten at every start: a container restarted without the secret must not keep the old one.
umask 077
: >"$defaults"
if [ -n "${SPARK_AUTH_SECRET:-}" ]; then
    # Standalone mode: the master, every worker and every application need the same secret.
    printf 'spark.authenticate true\nspark.authenticate.secret %s\n' "$SPARK_AUTH_SECRET" >"$defaults"
fi
umask 022

exec "$@"
