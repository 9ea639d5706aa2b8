"""The ``/rpc`` request pipeline (auth → parse → plan → query → transaction → respond).

What the rest of the package uses of it is exported here; the stage modules are its
internals.
"""

from api.rpc.auth import Authenticator, AuthResult, load_keys
from api.rpc.openapi import DOCS_HTML, openapi_document
from api.rpc.parse import parse_profile
from api.rpc.pipeline import RpcPipeline
from api.rpc.schema_cache import SchemaCache, SchemaCacheHolder, SchemaCacheLoader
from api.rpc.transaction import Database

__all__ = [
    "DOCS_HTML",
    "AuthResult",
    "Authenticator",
    "Database",
    "RpcPipeline",
    "SchemaCache",
    "SchemaCacheHolder",
    "SchemaCacheLoader",
    "load_keys",
    "openapi_document",
    "parse_profile",
]
