"""`GET /docs`: the JSON API's reference, rendered on the server from the app's own OpenAPI schema.

Swagger UI loads its script and styles from a CDN, which the app's CSP (`script-src 'none'`) blocks and an
inspection office may not reach: this page needs no script and no network, and says the same things (each
route's method, parameters, body, responses and the models), with /openapi.json for tools.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter()
METHODS = ("get", "post", "put", "patch", "delete")


def _ref_name(schema: dict[str, Any]) -> str:
    """A schema as a reader names it: a model's name, list[…], a type, or the choices."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_ref_name(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list[{_ref_name(schema.get('items', {}))}]"
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    return str(schema.get("type", "any"))


def describe(openapi: dict[str, Any]) -> dict[str, Any]:
    """The schema reduced to what the page shows."""
    routes = []
    for path, operations in openapi.get("paths", {}).items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            body = (
                operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            )
            routes.append({
                "method": method.upper(), "path": path, "summary": operation.get("summary", ""),
                "description": operation.get("description", ""),
                "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                "type": _ref_name(p.get("schema", {})), "description": p.get("description", "")}
                               for p in operation.get("parameters", [])],
                "body": _ref_name(body) if body else "",
                "responses": [{"code": code, "description": r.get("description", ""),
                               "type": _ref_name(r.get("content", {}).get("application/json", {}).get("schema", {}))
                               if r.get("content") else ""}
                              for code, r in operation.get("responses", {}).items()],
            })  # fmt: skip
    models = []
    for name, schema in openapi.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        fields = [{"name": field, "type": _ref_name(spec), "required": field in required,
                   "description": spec.get("description", "")}
                  for field, spec in schema.get("properties", {}).items()]  # fmt: skip
        models.append({"name": name, "description": schema.get("description", ""), "fields": fields})
    info = openapi.get("info", {})
    return {"title": info.get("title", ""), "version": info.get("version", ""),
            "description": info.get("description", ""), "routes": routes, "models": models}  # fmt: skip


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
def docs(request: Request) -> HTMLResponse:
    from web.pages import render

    return render(request, "docs.html", api=describe(request.app.openapi()))
