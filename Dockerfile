# leadflow: one image for the collector, the worker, the sink, the action delivery and the one-shot
# `topics create` / `migrate`.
# Build: docker build -t leadflow .   Run: docker run leadflow collector|worker|sink|actions|...
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY leadflow leadflow
COPY streams streams
COPY schemas schemas
COPY connectors connectors
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /var/lib/leadflow --create-home leadflow
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
WORKDIR /var/lib/leadflow
# The collector's disk spool and the action delivery's outbox live under the data dir: give it a volume where
# inputs must survive a restart.
ENV LEADFLOW_DATA_DIR=/var/lib/leadflow \
    LEADFLOW_HTTP_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
VOLUME ["/var/lib/leadflow"]
EXPOSE 8080 9101 9102 9103
ENTRYPOINT ["leadflow"]
CMD ["--help"]
