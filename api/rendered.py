"""Pre-rendered JSON bodies: what the read cache stores and sends back untouched."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Response, current_app
from marshmallow import Schema

from api.responses import RESTX_JSON


def render_json(data: Any) -> bytes:
    """``data`` as the bytes a RESTX resource would send."""
    return (json.dumps(data, **RESTX_JSON) + "\n").encode()


def json_renderer(schema: Schema) -> Callable[[Any], bytes]:
    """A function dumping an object with ``schema`` to the bytes a RESTX resource would send."""

    def render(obj: Any) -> bytes:
        return render_json(schema.dump(obj))

    return render


def json_response(body: bytes, headers: dict[str, str] | None = None) -> Response:
    """A 200 response carrying ``body`` as is (RESTX passes Response objects through)."""
    return current_app.response_class(body, 200, headers, mimetype="application/json")
