"""Entry point: ``gunicorn run:app`` and ``flask --app run``."""

import sys

from factory import create_app
from settings import ConfigError

try:
    app = create_app()
except ConfigError as err:
    sys.exit(f"wdapi: refusing to start: {err}")
