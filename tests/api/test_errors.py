"""Errors from Flask itself share the API's problem+json format."""

import logging

from tests.helpers.problems import assert_problem


def test_unknown_url_is_404_problem(sqlite_app):
    client = sqlite_app.test_client()
    for path in ("/nope", "/api/v1/nope", "/api/v1/wdtests/a/b"):
        assert assert_problem(client.get(path), 404)["instance"] == path


def test_wrong_method_is_405_with_allow(sqlite_app):
    response = sqlite_app.test_client().delete("/api/v1/wdtests")
    assert_problem(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_unexpected_exception_is_500_without_traceback(sqlite_app, caplog):
    @sqlite_app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals SELECT * FROM wdtest")

    with caplog.at_level(logging.ERROR):
        response = sqlite_app.test_client().get("/api/v1/boom")
    body = assert_problem(response, 500)
    text = response.get_data(as_text=True)
    assert "secret" not in text and "Traceback" not in text and "SELECT" not in text
    assert body["detail"]
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)
