# The one image of the docker-compose cluster (docker-compose.yml). The Spark master, the four
# workers and JupyterLab (the driver) all run it, so every executor has the driver's Python,
# lightgbm and project code. Build: `docker compose build` (docs/running.md).
#
# Debian's own image, Python and JRE: bookworm's python3 is 3.11 (pyproject's requires-python), and
# the same Dockerfile builds where no registry but Debian's archive and PyPI can be reached (tests
# make debian:bookworm-slim locally; users pull the official one).
FROM debian:bookworm-slim AS base

# python3 + python3-venv: Python 3.11 and the venv below. openjdk-17-jre-headless: Spark 4 needs
# Java 17. procps: `ps`, which Spark's launch scripts call. libgomp1: LightGBM's OpenMP runtime
# (`import lightgbm` fails without libgomp.so.1). The slim image drops /usr/share/man/man1, where
# the JRE's post-install step links its man pages. Versions are left to bookworm's archive
# (security updates replace pinned ones): DL3008 is waived on purpose.
# hadolint ignore=DL3008
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv openjdk-17-jre-headless procps libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /usr/lib/jvm/java-17 \
    && python3 -m venv /opt/venv

# The venv comes first on PATH, so `python`, `pip`, `kedro`, `jupyter` and `spark-class` are its
# own. SPARK_HOME is pyspark's install dir in that venv: its bin/spark-class starts the master and
# the workers, so the daemons and the driver run the same Spark jars. SPARK_CONF_DIR is written at
# start-up by docker/entrypoint.sh; SPARK_WORKER_DIR holds executor scratch space.
ENV VIRTUAL_ENV=/opt/venv \
    JAVA_HOME=/usr/lib/jvm/java-17 \
    SPARK_HOME=/opt/venv/lib/python3.11/site-packages/pyspark \
    SPARK_CONF_DIR=/opt/spark/conf \
    SPARK_WORKER_DIR=/opt/spark/work \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    PYSPARK_DRIVER_PYTHON=/opt/venv/bin/python \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
ENV PATH="${VIRTUAL_ENV}/bin:${SPARK_HOME}/bin:${PATH}"

# pyproject.toml's [project] dependencies as a requirements file. Only its content reaches the
# image below, so editing other parts of pyproject.toml (pytest, ruff) or the project's code does
# not reinstall pyspark and lightgbm: dependencies first, source after.
FROM base AS requirements
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt

FROM base
WORKDIR /opt/project
COPY --from=requirements /tmp/requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt \
    && python -c "import lightgbm, pyspark"

# The project itself, from the same pyproject.toml; `pip check` fails the build if an installed
# version falls outside pyproject's ranges.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps . \
    && pip check \
    && test "$(python -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')" = "$SPARK_HOME" \
    && test -x "$SPARK_HOME/bin/spark-class" \
    && rm -rf build src/*.egg-info

COPY .telemetry ./
COPY conf ./conf
COPY notebooks ./notebooks
COPY docker/entrypoint.sh docker/healthcheck.sh /usr/local/bin/

# A non-root user. Files it writes to the bind-mounted data/ belong to APP_UID on the host: build
# with your uid (APP_UID in .env, see .env.example), or make data/ writable for uid 1000.
# conf/local is never copied in (.dockerignore: personal settings and credentials), but Kedro's
# default env needs the folder to exist.
ARG APP_UID=1000
RUN chmod 755 /usr/local/bin/entrypoint.sh /usr/local/bin/healthcheck.sh \
    && useradd --create-home --uid "${APP_UID}" --shell /bin/bash app \
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
