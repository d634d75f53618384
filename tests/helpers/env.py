"""The environment the app reads, so the suite can clear it: the developer's shell
(``API_KEYS=abc make test``) must not change a result.

``app_env_names`` is the one place that knows which variables those are; it derives
them from the settings module, so a setting added there is scrubbed too.
"""

from __future__ import annotations

import os

import settings

# Prefixes read as a whole: ``APP_*`` by the settings loader (APP_ENV, APP_SETTINGS too),
# ``FLASK_*`` by Flask itself (FLASK_DEBUG sets app.debug), ``GUNICORN_*`` by gunicorn.conf.py.
PREFIXES = ("APP_", "FLASK_", "GUNICORN_")
# Read by gunicorn.conf.py under names the settings module does not declare.
GUNICORN_NAMES = ("BIND", "WEB_CONCURRENCY")


def app_env_names(environ=None) -> set[str]:
    """Every variable in ``environ`` (default ``os.environ``) that the app or gunicorn reads."""
    declared = set(settings.ENV_OVERRIDES) | set(GUNICORN_NAMES)
    declared |= {name for name in dir(settings.Config) if name.isupper()}
    environ = os.environ if environ is None else environ
    return {name for name in environ if name in declared or name.startswith(PREFIXES)}


def clean_env(**extra: str) -> dict[str, str]:
    """An explicit environment for a subprocess: this one without the app's variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in app_env_names()}
    return {**env, **extra}
