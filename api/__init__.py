"""The Flask-RESTX ``Api``: resources under /api/v1, both documents, Swagger UI at /docs."""

from flask import Flask, current_app
from flask_restx import Api

from api.contract.docs import bp as docs_bp
from api.resources.demo import demo_ns, exceptions_ns
from api.resources.keyvalue import ns as keyvalue_ns
from api.resources.rabbitmq import ns as rabbitmq_ns
from api.resources.wdtests import ns as wdtests_ns
from core.paths import API_PREFIX, OPENAPI_3, OPENAPI_PATH, SWAGGER_2

NAMESPACES = (wdtests_ns, keyvalue_ns, rabbitmq_ns)
DEMO_NAMESPACES = (exceptions_ns, demo_ns)  # mounted with DEMOS_ENABLED (off in production)


class ProblemApi(Api):
    def error_router(self, original_handler, e):
        # Flask's own error handlers render every error as problem+json, for
        # RESTX resources and plain routes alike; RESTX's renderer is bypassed.
        return original_handler(e)

    def document(self, version: str) -> dict:
        """The Swagger 2.0 or OpenAPI 3.1 document, built once per app from its settings."""
        cache = self.__dict__.setdefault("_documents", {})
        if version not in cache:
            # Imported on the first request for a document: apispec is no worker's baggage.
            from api.contract.openapi import build

            cache[version] = build(current_app, self, version)
        return cache[version]

    @property
    def __schema__(self):
        # What RESTX serves at swagger.json; errors propagate instead of being swallowed.
        return self.document(SWAGGER_2)


def init_api(app: Flask) -> Api:
    """Build the app's Api (it caches its documents, so one per app) and mount the namespaces."""
    api = ProblemApi(
        title="Wdtest API",
        version="1.0",
        description="Wdtest records. Every error is RFC 9457 application/problem+json.",
        contact="Wdtest API maintainers",
        prefix=API_PREFIX,
        doc=False,  # api.contract.docs serves Swagger UI 5, which renders OpenAPI 3.1
    )
    api.error_handlers.clear()  # RESTX's ParseError/MaskError: no masks here
    for ns in NAMESPACES + (DEMO_NAMESPACES if app.config["DEMOS_ENABLED"] else ()):
        api.add_namespace(ns)
    api.init_app(app)
    app.add_url_rule(OPENAPI_PATH, "openapi_document", lambda: api.document(OPENAPI_3))
    app.register_blueprint(docs_bp)
    app.extensions["wdapi.api"] = api
    return api
