"""The hot path's shortcuts through Flask: context objects resolved once
(``core.context``), ``ensure_sync`` answered once per function (``factory.App``), and the
body limit read once per request (``api.contract.parsing.APIRequest``)."""

from __future__ import annotations

import pytest
from flask import current_app, g, request

from api.contract.parsing import APIRequest
from core.context import app_object, g_object, request_object
from factory import App


def test_context_objects_are_the_proxies_targets():
    app = App("ctx")
    with app.test_request_context("/a/b?c=1", method="POST"):
        assert request_object() is request._get_current_object()
        assert request_object().path == "/a/b"
        assert g_object() is g._get_current_object()
        g_object().marker = 7
        assert g.marker == 7
        assert app_object() is app is current_app._get_current_object()


def test_context_objects_need_a_context():
    for resolve in (app_object, request_object, g_object):
        with pytest.raises(RuntimeError, match="outside of"):
            resolve()


class View:
    def dispatch(self):
        return "sync"


def test_ensure_sync_keeps_one_answer_per_function_not_per_bound_method():
    app = App("ctx")
    before = len(app._is_async)
    for _ in range(100):
        method = View().dispatch  # a new bound method (and view) per request, as RESTX makes
        assert app.ensure_sync(method) is method
    assert len(app._is_async) == before + 1


def test_ensure_sync_still_refuses_or_wraps_a_coroutine_function():
    async def view():
        return "async"

    app = App("ctx")
    try:
        import asgiref  # noqa: F401  (Flask's "async" extra)
    except ImportError:
        for _ in range(2):  # the cached answer takes the same path as the first
            with pytest.raises(RuntimeError, match="async"):
                app.ensure_sync(view)
    else:
        assert app.ensure_sync(view)() == "async"
        assert app.ensure_sync(view)() == "async"


def test_body_limit_comes_from_the_config_unless_set_on_the_request():
    app = App("ctx")
    app.request_class = APIRequest
    app.config["MAX_CONTENT_LENGTH"] = 10
    with app.test_request_context("/", method="POST", data=b"x" * 5):
        assert request.max_content_length == 10
        request.max_content_length = 3  # Flask's per-request override still wins
        assert request.max_content_length == 3
    app.config["MAX_CONTENT_LENGTH"] = None
    with app.test_request_context("/", method="POST", data=b"x" * 5):
        assert request.max_content_length is None
