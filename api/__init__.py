"""The Flask-RESTX ``Api``: Swagger UI at /docs, resources under /api/v1."""

from flask import Flask
from flask_restx import Api

from api.demo import demo_ns, exceptions_ns
from api.keyvalue import ns as keyvalue_ns
from api.openapi import document
from api.rabbitmq import ns as rabbitmq_ns
from api.wdtests import ns as wdtests_ns

NAMESPACES = (wdtests_ns, exceptions_ns, demo_ns, keyvalue_ns, rabbitmq_ns)
API_PREFIX = "/api/v1"


class ProblemApi(Api):
    def error_router(self, original_handler, e):
        # Flask's own error handlers render every error as problem+json, for
        # RESTX resources and plain routes alike; RESTX's renderer is bypassed.
        return original_handler(e)


def init_api(app: Flask) -> Api:
    """Build the app's Api (it caches its spec, so one per app) and mount the namespaces."""
    api = ProblemApi(
        title="Wdtest API",
        version="1.0",
        description="Wdtest records. Every error is RFC 9457 application/problem+json.",
        prefix=API_PREFIX,
        doc="/docs",
        # Swagger UI's Authorize button; {} = no key, as reads need none unless API_READ_AUTH.
        authorizations={"apikey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        security=[{"apikey": []}, {}],
    )
    for ns in NAMESPACES:
        document(ns, app)  # the Swagger docs, from each operation's declarations
        api.add_namespace(ns)
    api.init_app(app)
    app.extensions["wdapi.api"] = api
    return api
