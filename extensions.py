"""Extension objects, created once and unbound; ``factory.create_app`` binds them."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
migrate = Migrate()
