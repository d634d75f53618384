"""No cookie sessions: the API is stateless (API keys, no login), so Flask's signed-cookie
session, which builds an itsdangerous serializer on every request, is switched off."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SessionInterface


class NoSessions(SessionInterface):
    """``flask.session`` is a ``NullSession``: reading it is empty, writing it raises."""

    def open_session(self, app, request):
        return None  # Flask then uses make_null_session

    def save_session(self, app, session, response):
        return None


def disable_sessions(app: Flask) -> None:
    app.session_interface = NoSessions()
