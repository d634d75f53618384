"""JSON encoding shared by every response, and the app's ``JSONResponse`` class."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from flask import Response, current_app
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from api.contract.errors import http_problem


def encode_default(o):
    """Encode what ``json`` cannot: the one rule set used by Flask views and RESTX resources."""
    if isinstance(o, datetime):
        # ISO 8601 with an offset; naive values are UTC by convention in this app.
        return (o if o.tzinfo else o.replace(tzinfo=UTC)).isoformat()
    if isinstance(o, date):
        return o.isoformat()
    if isinstance(o, Decimal | UUID):
        return str(o)  # str keeps a Decimal's exact digits
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _reject_duplicate_keys(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        # A ValueError: Flask answers 400 "not valid JSON", as for any malformed body.
        raise ValueError(f"duplicate key {duplicate!r}")
    return obj


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        # 1e309 parses as inf, which no JSON response could carry back.
        raise ValueError(f"number {text} is out of range")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class JSONProvider(DefaultJSONProvider):
    ensure_ascii = False
    sort_keys = False
    compact = True  # the same bytes in development as in production, and as RESTX sends
    default = staticmethod(encode_default)

    def loads(self, s, **kwargs):
        # The last of two equal keys would win silently; like a repeated query parameter, refuse it.
        kwargs.setdefault("object_pairs_hook", _reject_duplicate_keys)
        kwargs.setdefault("parse_float", _finite_float)
        kwargs.setdefault("parse_constant", _reject_constant)
        return super().loads(s, **kwargs)


# Flask-RESTX serializes with the standard library json and these keyword arguments.
# indent=None: RESTX would indent in debug mode only.
RESTX_JSON = {"default": encode_default, "ensure_ascii": False, "separators": (",", ":"), "indent": None}


class JSONResponse(Response):
    """The app's response class.

    Flask converts dicts and lists itself; ``force_type`` gets what a plain view
    returns beyond that: werkzeug responses and WSGI callables. It turns a
    *returned* ``HTTPException`` (werkzeug would render HTML) into problem+json,
    and any JSON-encodable value (dict, list, dataclass...) into a JSON response.
    """

    @classmethod
    def force_type(cls, response, environ=None):
        if isinstance(response, HTTPException) and response.response is None:
            response = http_problem(response)
        elif isinstance(response, dict | list | tuple) or (
            dataclasses.is_dataclass(response) and not isinstance(response, type)
        ):
            response = current_app.json.response(response)
        return super().force_type(response, environ)
