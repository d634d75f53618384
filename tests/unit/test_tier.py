"""The unit tier's own rule: building an app fails here (tests/unit/conftest.py)."""

import flask
import pytest

from factory import create_app


def test_building_the_app_fails_in_the_unit_tier():
    with pytest.raises(AssertionError, match="unit tests build no app"):
        create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_building_any_flask_app_fails_in_the_unit_tier():
    with pytest.raises(AssertionError, match="unit tests build no app"):
        flask.Flask("plain")
