# The API image: `metrics-rpc serve` (default), `metrics-rpc migrate`, `metrics-rpc collect …`.
# Dependencies come from uv.lock, the same versions `make run` and `make test` install.

# Build stage: the locked dependencies and the package into /opt/venv, with the uv version
# scripts/bootstrap.sh pins (tests/api/test_compose.py keeps the two equal).
FROM python:3.11-slim AS build
ARG UV_VERSION=0.13.9
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_NO_CACHE=1
RUN pip install "uv==${UV_VERSION}"
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY api ./api
RUN uv sync --locked --no-dev --no-editable --python /usr/local/bin/python3.11

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    METRICS_RPC_SQL_DIR=/app/sql \
    PGRST_SERVER_HOST="*" \
    PGRST_SERVER_PORT=3000

WORKDIR /app
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin metrics-rpc
# SQL last: the migrations and function files change more often than the code.
COPY sql ./sql

USER metrics-rpc
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/live', timeout=2)"]
ENTRYPOINT ["metrics-rpc"]
CMD ["serve"]
