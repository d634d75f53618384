"""Namespace ``redis``: a key-value store in Redis, and a ping."""

from flask_restx import Namespace, Resource

from api.contract.operations import body, errors, operation_id, path, returns
from api.schemas.keyvalue import KeyOut, KeyPath, KeyPut, PingOut
from services import keyvalue

ns = Namespace(
    "redis",
    description="String keys and values in Redis, kept under the app's key prefix. "
    "Every operation answers 503 promptly when Redis is down.",
    path="/redis",
)


@ns.route("/keys/<path:key>", endpoint="redis_key")
@path(KeyPath)
class RedisKey(Resource):
    @operation_id("get_redis_key")
    @returns(200, KeyOut, "The value and its remaining ttl")
    @errors(400, 404, 503)
    def get(self, key):
        """Read a key.

        Answers the value and the seconds it has left (null: it never expires); 404 when absent.
        """
        return keyvalue.get(key=key)

    @operation_id("put_redis_key")
    @returns(201, KeyOut, "Created")
    @returns(200, KeyOut, "Replaced")
    @body(KeyPut)
    @errors(503)
    def put(self, key, body):
        """Create or replace a key.

        201 when the key is new, 200 when it replaced a value; a value over the byte limit is a 413.
        """
        entry, created = keyvalue.put(key=key, value=body["value"], ttl=body["ttl"])
        return entry, 201 if created else 200

    @operation_id("delete_redis_key")
    @returns(204, description="Deleted")
    @errors(400, 404, 503)
    def delete(self, key):
        """Delete a key.

        404 when there is no such key.
        """
        keyvalue.delete(key=key)


@ns.route("/ping", endpoint="redis_ping")
class RedisPing(Resource):
    @operation_id("ping_redis")
    @returns(200, PingOut, "Redis answered")
    @errors(503)
    def get(self):
        """Round-trip latency to Redis.

        Sends PING and answers the time it took; 503 when Redis does not answer in time.
        """
        return {"latency_ms": keyvalue.ping()}
