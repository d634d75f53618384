"""The hot path's shortcuts through Flask: context objects resolved once
(``core.context``), ``ensure_sync`` answered once per function (``factory.App``), and the
body limit read once per request (``api.contract.parsing.APIRequest``)."""

from __future__ import annotations

import functools

import pytest
from flask import current_app, g, request

from api.contract.parsing import APIRequest
from core.context import app_object, g_object, request_object
from factory import App


def test_context_objects_are_the_proxies_targets():
    app = App("ctx")
    with app.test_request_context("/a/b?c=1", method="POST"):
        assert request_object().path == "/a/b"
        assert request_object() is request.environ["werkzeug.request"]
        g_object().marker = 7
        assert g.marker == 7
        assert app_object() is app
        assert current_app.name == app_object().name == "ctx"
    with app.test_request_context("/other"):
        assert request_object().path == "/other"  # resolved per call, never kept
        assert "marker" not in g_object()


def test_context_objects_need_a_context():
    for resolve in (app_object, request_object, g_object):
        with pytest.raises(RuntimeError, match="outside of"):
            resolve()


class View:
    def dispatch(self):
        return "sync"

    async def dispatch_async(self):
        return "async"


def test_ensure_sync_keeps_one_answer_per_function_not_per_bound_method():
    app = App("ctx")
    before = len(app._is_async)
    for _ in range(100):
        method = View().dispatch  # a new bound method (and view) per request, as RESTX makes
        assert app.ensure_sync(method) is method
    assert len(app._is_async) == before + 1


def test_ensure_sync_wraps_a_coroutine_function_every_time():
    async def view():
        return "async"

    app = App("ctx")
    wrapped = []
    app.async_to_sync = lambda func: wrapped.append(func) or "wrapped"  # type: ignore[method-assign]
    for _ in range(3):  # the first answer, then the kept one
        assert app.ensure_sync(view) == "wrapped"
        assert app.ensure_sync(View().dispatch_async) == "wrapped"
        assert app.ensure_sync(View().dispatch) != "wrapped"
    assert len(wrapped) == 6
    assert app._is_async[view] is True and app._is_async[View.dispatch_async] is True


def test_ensure_sync_keeps_only_plain_functions_and_a_bounded_number():
    app = App("ctx")
    partial = functools.partial(lambda x: x, 1)
    assert app.ensure_sync(partial) is partial
    assert partial not in app._is_async  # Flask's own answer, not kept
    for _ in range(App.ENSURE_SYNC_KEPT + 50):
        hook = (lambda: lambda response: response)()  # a new function per request (after_this_request)
        assert app.ensure_sync(hook) is hook
    assert len(app._is_async) == App.ENSURE_SYNC_KEPT


def test_body_limit_comes_from_the_config_once_unless_set_on_the_request():
    app = App("ctx")
    app.request_class = APIRequest
    app.config["MAX_CONTENT_LENGTH"] = 10
    with app.test_request_context("/", method="POST", data=b"x" * 5):
        assert request.max_content_length == 10
        app.config["MAX_CONTENT_LENGTH"] = 99
        assert request.max_content_length == 10  # read once: this request keeps its limit
        request.max_content_length = 3  # Flask's per-request override still wins
        assert request.max_content_length == 3
    with app.test_request_context("/", method="POST", data=b"x" * 5):
        assert request.max_content_length == 99
    app.config["MAX_CONTENT_LENGTH"] = None
    with app.test_request_context("/", method="POST", data=b"x" * 5):
        assert request.max_content_length is None
