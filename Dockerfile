# The one image of the docker-compose cluster (docker-compose.yml). The Spark master, the four
# workers and JupyterLab (the driver) all run it, so every executor has the driver's Python,
# lightgbm and project code. Build: `docker compose build` (docs/running.md).
FROM python:3.11-slim-bookworm

# Spark 4 needs Java 17; procps provides `ps`, which Spark's launch scripts call. The slim image
# drops /usr/share/man/man1, where the JRE's post-install step links its man pages. Versions are
# left to bookworm's archive (security updates replace pinned ones): DL3008 is waived on purpose.
# hadolint ignore=DL3008
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /usr/lib/jvm/java-17

# SPARK_HOME is pyspark's own install dir: its bin/spark-class starts the master and the workers,
# so the daemons and the driver run the same Spark jars. SPARK_CONF_DIR is written at start-up by
# docker/entrypoint.sh; SPARK_WORKER_DIR holds executor scratch space outside site-packages.
ENV JAVA_HOME=/usr/lib/jvm/java-17 \
    SPARK_HOME=/usr/local/lib/python3.11/site-packages/pyspark \
    SPARK_CONF_DIR=/opt/spark/conf \
    SPARK_WORKER_DIR=/opt/spark/work \
    PYSPARK_PYTHON=python \
    PYSPARK_DRIVER_PYTHON=python \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
ENV PATH="${SPARK_HOME}/bin:${PATH}"

WORKDIR /opt/project

# Dependencies first, read from pyproject.toml's [project] dependencies, so that editing the
# project's code does not reinstall pyspark and lightgbm.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project itself, from the same pyproject.toml; `pip check` fails the build if an installed
# version falls outside pyproject's ranges.
COPY src ./src
RUN pip install --no-deps . \
    && pip check \
    && test "$(python -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')" = "$SPARK_HOME" \
    && test -x "$SPARK_HOME/bin/spark-class"

COPY .telemetry ./
COPY conf ./conf
COPY notebooks ./notebooks
COPY --chmod=755 docker/entrypoint.sh /usr/local/bin/entrypoint.sh

# A non-root user; match APP_UID to your host uid (see .env.example) so that files written to the
# bind-mounted data/ stay yours. conf/local is never copied in (.dockerignore: it holds personal
# settings and credentials), but Kedro's default env needs the folder to exist.
ARG APP_UID=1000
RUN useradd --create-home --uid "${APP_UID}" --shell /bin/bash app \
    && mkdir -p /opt/project/data /opt/project/conf/local "${SPARK_CONF_DIR}" "${SPARK_WORKER_DIR}" \
    && chown -R app:app /opt/project "${SPARK_CONF_DIR}" "${SPARK_WORKER_DIR}"
# Numeric, so that runtimes checking for a non-root user can tell without /etc/passwd.
USER ${APP_UID}

# The "Kedro (spark_lgbm_tuning)" Jupyter kernel (notebooks get `catalog`, `context`, `session`);
# made here so the jupyterlab service runs `jupyter lab` itself, as PID 1's direct child.
RUN kedro jupyter setup

ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
# Alone (`docker run`), the image runs the default pipeline on its embedded Spark (local[*]).
CMD ["kedro", "run"]
