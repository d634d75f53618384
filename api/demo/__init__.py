"""The demo namespaces: ``demo`` (routing, requests, contexts) and ``exceptions`` (how errors travel)."""

from api.demo.error_handling import ns as exceptions_ns
from api.demo.routing import ns as demo_ns

__all__ = ["demo_ns", "exceptions_ns"]
