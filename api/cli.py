"""The ``metrics-rpc`` console script."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api.config import ConfigError, Workers, load_settings

# subcommands implemented by other modules: name → (module, help)
_PLUGGED = {
    "backfill": ("api.ingest.backfill", "copy history from a Prometheus server through the API"),
}
_COLLECTORS = {
    "jupyterhub": ("api.collector.jupyterhub", "observe JupyterHub single-user pods"),
}


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="PostgREST-format config file (also METRICS_RPC_CONFIG); "
                        "the environment overrides it")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metrics-rpc", description="PostgREST-compatible metrics API over SQL functions"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run the API (PostgREST environment names)",
        description="Run the API. It is configured like PostgREST, through the environment "
        "or --config: the port is PGRST_SERVER_PORT (default 3000), the address "
        "PGRST_SERVER_HOST, the database PGRST_DB_URI.",
    )
    serve.add_argument("--port", type=int, default=None,
                       help="API port for this run; without it PGRST_SERVER_PORT (default 3000)")
    serve.add_argument("--workers", default=None, metavar="N",
                       help="worker processes sharing the port, or auto (one per CPU); "
                       "without it METRICS_RPC_WORKERS (default 1)")
    _add_config(serve)

    dev = sub.add_parser("dev", help="run the API on a throwaway PostgreSQL with demo data")
    dev.add_argument("--port", type=int, default=None,
                     help="API port (default: PGRST_SERVER_PORT, else 3000)")
    dev.add_argument("--data-dir", type=Path, default=Path(".data"), metavar="DIR",
                     help="where the PostgreSQL cluster and the dev JWT secret live, kept "
                     "between runs (default: .data; `make clean` removes it)")
    dev.add_argument("--no-demo", action="store_true", help="do not load demo data")

    mig = sub.add_parser("migrate", help="apply sql/migrations then changed sql/functions")
    mig.add_argument("--db-uri", help="owner connection (default METRICS_RPC_MIGRATE_DB_URI, "
                     "then PGRST_DB_URI)")
    mig.add_argument("--status", action="store_true", help="list applied / pending / changed")
    mig.add_argument("--dry-run", action="store_true", help="print what would run, change nothing")
    _add_config(mig)
    mig.add_argument("--sql-dir", type=Path, help="the sql/ folder (default METRICS_RPC_SQL_DIR, "
                     "then the one beside the package)")

    tok = sub.add_parser("token", help="mint a JWT with the configured secret")
    tok.add_argument("--role", default="writer",
                     help="database role the token switches to, e.g. writer or web_anon "
                     "(default: writer)")
    tok.add_argument("--sub", default=None,
                     help="subject claim (who is acting); required except for the anonymous role")
    tok.add_argument("--exp", default="1h", help="lifetime, e.g. 30m, 1h, 7d; 0 = no expiry")
    tok.add_argument("--claim", action="append", default=[], metavar="KEY=VALUE",
                     help="an extra claim (a string value); repeat for several")
    _add_config(tok)

    for name, (module, help_text) in _PLUGGED.items():
        plugged = sub.add_parser(name, help=help_text)
        plugged.set_defaults(_module=module)
        _add_config(plugged)
        _configure(module, plugged)

    collect = sub.add_parser("collect", help="run a data collector")
    collectors = collect.add_subparsers(dest="collector", required=True)
    for name, (module, help_text) in _COLLECTORS.items():
        plugged = collectors.add_parser(name, help=help_text)
        plugged.set_defaults(_module=module)
        _add_config(plugged)
        _configure(module, plugged)
    return parser


def _configure(module: str, parser: argparse.ArgumentParser) -> None:
    try:
        importlib.import_module(module).configure_parser(parser)
    except ImportError as exc:
        parser.set_defaults(_unavailable=str(exc))


def _cmd_migrate(args: argparse.Namespace) -> int:
    from api import migrate

    settings = load_settings(config_file=args.config)
    dsn = args.db_uri or settings.migrate_db_uri or settings.db_uri
    if not dsn:
        print("metrics-rpc migrate: no database: pass --db-uri or set "
              "METRICS_RPC_MIGRATE_DB_URI", file=sys.stderr)
        return 2
    root = args.sql_dir or (Path(settings.sql_dir) if settings.sql_dir else migrate.SQL_ROOT)
    try:
        if args.status:
            for line in asyncio.run(migrate.status(dsn, root)):
                print(f"{line.state:<13} {line.kind:<9} {line.label}")
            return 0
        asyncio.run(migrate.migrate(
            dsn, root, dry_run=args.dry_run, notify_channel=settings.db_channel,
            authenticator_password=settings.authenticator_password,
        ))
    except migrate.DatabaseUnreachable as exc:
        print(f"metrics-rpc migrate: {exc}", file=sys.stderr)
        return 2
    except migrate.MigrationError as exc:
        print(f"metrics-rpc migrate: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    from api.tokens import mint_token, parse_duration

    settings = load_settings(config_file=args.config)
    if not args.sub and args.role != settings.db_anon_role:
        # without a subject every such token shares one rate-limit bucket and audit name
        raise ValueError(f"--sub is required for role {args.role} (who acts with the token; "
                         "it keys the rate limit and the audit)")
    extra = dict(item.split("=", 1) for item in args.claim)
    lifetime = parse_duration(args.exp)
    print(mint_token(settings, args.role, sub=args.sub, expires_in=lifetime or None, extra=extra))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from api.server import serve

    overrides: dict[str, Any] = {}
    if args.port is not None:
        overrides["server_port"] = args.port
    if args.workers is not None:
        try:
            overrides["workers"] = Workers.parse(args.workers)
        except ValueError as exc:
            print(f"metrics-rpc serve: --workers: {exc}", file=sys.stderr)
            return 2
    settings = load_settings(config_file=args.config, **overrides)
    if not settings.db_uri:
        print("metrics-rpc serve: PGRST_DB_URI is not set", file=sys.stderr)
        return 2
    serve(settings)
    return 0


def _cmd_dev(args: argparse.Namespace) -> int:
    from api.dev import DevError, run_dev
    from api.pgcluster import ClusterError

    try:
        return run_dev(args.data_dir, args.port, demo=not args.no_demo)
    except (DevError, ClusterError) as exc:
        print(f"metrics-rpc dev: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = _parser().parse_args(argv)
    try:
        if getattr(args, "_unavailable", None):
            print(f"metrics-rpc {args.command}: unavailable ({args._unavailable})", file=sys.stderr)
            return 2
        if getattr(args, "_module", None):
            settings = load_settings(config_file=args.config)
            return int(importlib.import_module(args._module).run(args, settings))
        handler = {"serve": _cmd_serve, "dev": _cmd_dev, "migrate": _cmd_migrate,
                   "token": _cmd_token}[args.command]
        return handler(args)
    except ConfigError as exc:
        print(f"metrics-rpc {args.command}: configuration error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"metrics-rpc {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
