"""The OpenAPI 3 document served at ``GET /``, generated from the schema cache. Pure."""

from __future__ import annotations

from typing import Any

from api.rpc.schema_cache import Arg, Column, Function, SchemaCache

_INTEGER = {"smallint": "int32", "integer": "int32", "bigint": "int64"}
_NUMBER = {"numeric": None, "real": "float", "double precision": "double"}
_STRING_FORMATS = {
    "date": "date", "timestamp with time zone": "date-time",
    "timestamp without time zone": "date-time", "uuid": "uuid",
}


def type_schema(pg_type: str) -> dict[str, Any]:
    """A JSON schema for a PostgreSQL type name as ``format_type`` prints it."""
    base = pg_type.split("(")[0].strip()
    if pg_type.endswith("[]"):
        return {"type": "array", "items": type_schema(pg_type[:-2])}
    if base in _INTEGER:
        return {"type": "integer", "format": _INTEGER[base]}
    if base in _NUMBER:
        fmt = _NUMBER[base]
        return {"type": "number", **({"format": fmt} if fmt else {})}
    if base == "boolean":
        return {"type": "boolean"}
    if base in ("json", "jsonb"):
        return {}
    if base in _STRING_FORMATS:
        return {"type": "string", "format": _STRING_FORMATS[base]}
    return {"type": "string", "description": pg_type}


def _result_schema(fn: Function) -> dict[str, Any]:
    def obj(columns: tuple[Column, ...]) -> dict[str, Any]:
        return {"type": "object",
                "properties": {c.name: type_schema(c.type) for c in columns}}
    if fn.shape == "setof_composite":
        return {"type": "array", "items": obj(fn.columns)}
    if fn.shape == "setof_scalar":
        return {"type": "array", "items": type_schema(fn.return_type)}
    if fn.shape == "composite":
        return obj(fn.columns)
    return type_schema(fn.return_type)


def _query_param(arg: Arg) -> dict[str, Any]:
    schema = type_schema(arg.type)
    param: dict[str, Any] = {"name": arg.name, "in": "query", "required": not arg.has_default,
                             "schema": schema if schema else {"type": "string"}}
    if schema.get("type") == "array":
        param["schema"] = {"type": "array", "items": schema["items"]}
        param["style"], param["explode"] = "form", True
    return param


def _operation(fn: Function, method: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": (fn.comment or "").split("\n", 1)[0] or f"{fn.schema}.{fn.name}",
        "tags": [fn.schema],
        "responses": {
            "200": {"description": "OK",
                    "content": {"application/json": {"schema": _result_schema(fn)}}},
            "default": {"description": "Error",
                        "content": {"application/json": {"schema": {"$ref":
                                                                    "#/components/schemas/Error"}}}},
        },
    }
    if fn.shape == "void":
        op["responses"]["204"] = {"description": "No Content"}
        del op["responses"]["200"]
    if fn.comment and "\n" in fn.comment:
        op["description"] = fn.comment.split("\n", 1)[1].strip()
    if method == "get":
        op["parameters"] = [_query_param(a) for a in fn.args if a.name]
    elif fn.single_unnamed is not None:  # the whole body is the argument
        mime, body_schema = _RAW_BODIES.get(fn.single_unnamed.type,
                                            ("application/json", {"type": "object"}))
        op["requestBody"] = {"required": True, "content": {mime: {"schema": body_schema}}}
    else:
        op["requestBody"] = {
            "required": bool(fn.required_args),
            "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {a.name: type_schema(a.type) for a in fn.args},
                "required": sorted(fn.required_args),
            }}},
        }
    return op


# a single unnamed text/xml/bytea parameter takes the raw body of this media type
_RAW_BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "text": ("text/plain", {"type": "string"}),
    "xml": ("text/xml", {"type": "string"}),
    "bytea": ("application/octet-stream", {"type": "string", "format": "binary"}),
}


def openapi_document(
    cache: SchemaCache, schema: str, server_url: str | None = None
) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for fn in cache.all_functions():
        if fn.schema != schema:
            continue
        item = paths.setdefault(f"/rpc/{fn.name}", {})
        if len(cache.overloads(fn.schema, fn.name)) > 1:
            continue  # an overloaded name cannot be described by one operation
        item["post"] = _operation(fn, "post")
        if fn.volatility != "volatile" and fn.single_unnamed is None:
            item["get"] = _operation(fn, "get")
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "metrics-rpc", "version": "1",
                 "description": f"Functions of schema {schema}, called at /rpc/<name>."},
        "paths": {p: ops for p, ops in sorted(paths.items()) if ops},
        "components": {"schemas": {"Error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                           "details": {"type": "string", "nullable": True},
                           "hint": {"type": "string", "nullable": True}},
        }}},
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc


# The interactive docs page at /docs: self-contained (loads nothing from the internet), it
# reads the document from / and offers a form per function.
DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>metrics-rpc API</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}
details{border:1px solid #ccc;border-radius:6px;margin:.5rem 0;padding:.5rem}
summary{cursor:pointer;font-family:monospace}
label{display:block;margin:.3rem 0}input{margin-left:.5rem}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:20rem}
.get{color:#06c}.post{color:#080}
</style></head><body>
<h1>metrics-rpc API</h1>
<p>Every function is called at <code>/rpc/&lt;name&gt;</code> (GET with query parameters or
POST with a JSON object). The OpenAPI document is at <a href="/">/</a>.</p>
<label>Bearer token (optional) <input id="token" size="60"></label>
<div id="ops">Loading…</div>
<script>
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  Object.assign(e, attrs);
  kids.forEach(k => e.append(k));
  return e;
};
fetch("/", {headers: {Accept: "application/openapi+json"}}).then(r => r.json()).then(doc => {
  const root = document.getElementById("ops");
  root.textContent = "";
  for (const [path, item] of Object.entries(doc.paths)) {
    const method = item.get ? "get" : "post";
    const op = item[method];
    const params = method === "get" ? (op.parameters || []).map(p => p.name)
      : Object.keys(op.requestBody?.content["application/json"].schema.properties || {});
    const inputs = params.map(n => [n, el("input", {name: n})]);
    const out = el("pre");
    const run = el("button", {textContent: "Call", onclick: async () => {
      const values = Object.fromEntries(inputs.filter(([, i]) => i.value !== "")
        .map(([n, i]) => [n, i.value]));
      const headers = {};
      const token = document.getElementById("token").value.trim();
      if (token) headers.Authorization = "Bearer " + token;
      let res;
      if (method === "get") {
        res = await fetch(path + "?" + new URLSearchParams(values), {headers});
      } else {
        headers["Content-Type"] = "application/json";
        res = await fetch(path, {method: "POST", headers, body: JSON.stringify(values)});
      }
      out.textContent = res.status + " " + res.statusText + "\\n" + await res.text();
    }});
    root.append(el("details", {},
      el("summary", {}, el("span", {className: method, textContent: method.toUpperCase() + " "}),
         path + " — " + op.summary),
      ...inputs.map(([n, i]) => el("label", {textContent: n}, i)), run, out));
  }
});
</script></body></html>
""".encode()
