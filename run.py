"""Entry point: ``gunicorn run:app`` and ``flask --app run``."""

import sys

from factory import create_app
from settings import ConfigError

# gunicorn's APP_LOAD_ERROR: its master halts instead of booting workers that refuse to
# start again and again (any other status, as sys.exit("...")'s 1, gets the worker replaced).
APP_LOAD_ERROR = 4

try:
    app = create_app()
except ConfigError as err:
    print(f"wdapi: refusing to start: {err}", file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)
