"""The demo namespaces: ``demo`` (routing, requests, contexts) and ``exceptions`` (how errors travel)."""

from api.resources.demo.error_handling import ns as exceptions_ns
from api.resources.demo.routing import ns as demo_ns

__all__ = ["demo_ns", "exceptions_ns"]
