# The API image: `metrics-rpc serve` (default), `metrics-rpc migrate`, `metrics-rpc collect …`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    METRICS_RPC_SQL_DIR=/app/sql \
    PGRST_SERVER_HOST="*" \
    PGRST_SERVER_PORT=3000

WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin metrics-rpc
# SQL last: the migrations and function files change more often than the code.
COPY sql ./sql

USER metrics-rpc
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/live', timeout=2)"]
ENTRYPOINT ["metrics-rpc"]
CMD ["serve"]
