"""Demo data for ``metrics-rpc dev``: ``sql/demo/*.sql`` applied in order.

Each file adds a realistic week ending now through the same exactly-once insert paths
the ingest uses, so loading it again on a later start only adds what is missing.
"""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg

from api.migrate import SQL_ROOT, Echo


async def load_demo(dsn: str, root: Path = SQL_ROOT, echo: Echo = print) -> int:
    files = sorted((root / "demo").glob("*.sql"))
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        for path in files:
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute(path.read_text())
            echo(f"demo data {path.name} ({(time.perf_counter() - started) * 1000:.0f} ms)")
    finally:
        await conn.close()
    return len(files)
