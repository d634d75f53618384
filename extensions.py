"""Extension objects, created once and unbound; ``factory.create_app`` binds them."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from amqp_ext import AMQPExt
from redis_ext import RedisExt

db = SQLAlchemy()
migrate = Migrate()
redis_store = RedisExt()
amqp = AMQPExt()
