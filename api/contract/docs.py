"""Swagger UI at /docs, offering both documents, with its assets served from this host.

Flask-RESTX bundles Swagger UI 4, which cannot render OpenAPI 3.1; swagger-ui-bundle-v2
ships Swagger UI 5 as package data, so no request leaves the host.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("docs", __name__, template_folder="templates")
# Not /swaggerui: Flask-RESTX always registers its own Swagger UI 4 files there, and they would win.
ASSETS_PREFIX = "/docs/assets"


@bp.get("/docs")
def ui():
    api = current_app.extensions["wdapi.api"]
    documents = [
        {"name": "OpenAPI 3.1", "url": url_for("openapi_document")},
        {"name": "Swagger 2.0", "url": url_for("specs")},
    ]
    return render_template("docs.html", title=api.title, documents=documents)


@bp.get(f"{ASSETS_PREFIX}/<path:filename>")
def asset(filename: str):
    return send_from_directory(swagger_ui_path, filename, max_age=3600)
