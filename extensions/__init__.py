"""Extension objects, created once and unbound; ``factory.create_app`` binds them."""

from flask_migrate import Migrate

from extensions.amqp import AMQP
from extensions.database import Database
from extensions.redis_store import RedisStore

db = Database()
migrate = Migrate()
redis_store = RedisStore()
amqp = AMQP()
