"""Extension objects, created once and unbound; ``factory.create_app`` binds them."""

from extensions.amqp import AMQP
from extensions.database import Database
from extensions.redis_store import RedisStore

db = Database()
redis_store = RedisStore()
amqp = AMQP()
