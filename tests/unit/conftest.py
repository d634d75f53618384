"""The unit tier builds no app: schemas, helpers and pure functions only."""

import flask
import pytest


class UnitTestBuiltAnApp(AssertionError):
    """A unit test built a Flask app; it belongs in tests/services or tests/api."""


@pytest.fixture(autouse=True)
def _no_app(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise UnitTestBuiltAnApp("unit tests build no app: move this test to tests/services or tests/api")

    monkeypatch.setattr(flask.Flask, "__init__", refuse)
