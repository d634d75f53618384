"""Entry point: ``gunicorn run:app`` and ``flask --app run``."""

from factory import create_app
from settings import or_refuse

app = or_refuse(create_app)
