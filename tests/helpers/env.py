"""The environment the app reads, so the suite can clear it: the developer's shell
(``API_KEYS=abc make test``) must not change a result.

``app_env_names`` is the one place that knows which variables those are; it derives
them from the settings declaration, so a setting declared there is scrubbed too.
"""

from __future__ import annotations

import os

from settings.declaration import SETTINGS

# Prefixes read as a whole: ``APP_*`` by the settings loader (APP_ENV, APP_SETTINGS too),
# ``FLASK_*`` by Flask itself (FLASK_DEBUG sets app.debug).
PREFIXES = ("APP_", "FLASK_")


def app_env_names(environ=None) -> set[str]:
    """Every variable in ``environ`` (default ``os.environ``) that the app or gunicorn reads."""
    declared = {name for setting in SETTINGS for name in setting.env_names}
    environ = os.environ if environ is None else environ
    return {name for name in environ if name in declared or name.startswith(PREFIXES)}


# make hands its command-line variables to a sub-make through these: under
# ``make test APP_ENV=prod`` a test's own ``make run`` would see APP_ENV=prod.
MAKE_NAMES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def clean_env(**extra: str) -> dict[str, str]:
    """An explicit environment for a subprocess: this one without the app's variables (nor make's),
    plus ``extra``. Rate limits are off unless ``extra`` turns them on: load tests send far more
    than a client would."""
    scrubbed = app_env_names().union(MAKE_NAMES)
    env = {k: v for k, v in os.environ.items() if k not in scrubbed}
    return {**env, "RATELIMIT_ENABLED": "false", **extra}
