"""Namespace ``redis``: a key-value store in Redis, and a ping."""

from flask_restx import Namespace, Resource

from api.contract.operations import body, errors, path, returns
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
    @returns(200, KeyOut, "The value and its remaining ttl")
    @errors(400, 404, 503)
    def get(self, key):
        """Read a key."""
        return keyvalue.get(key=key)

    @returns(201, KeyOut, "Created")
    @returns(200, KeyOut, "Replaced")
    @body(KeyPut)
    @errors(503)
    def put(self, key, body):
        """Create or replace a key."""
        entry, created = keyvalue.put(key=key, value=body["value"], ttl=body["ttl"])
        return entry, 201 if created else 200

    @returns(204, description="Deleted")
    @errors(400, 404, 503)
    def delete(self, key):
        """Delete a key."""
        keyvalue.delete(key=key)


@ns.route("/ping", endpoint="redis_ping")
class RedisPing(Resource):
    @returns(200, PingOut, "Redis answered")
    @errors(503)
    def get(self):
        """Round-trip latency to Redis."""
        return {"latency_ms": keyvalue.ping()}
