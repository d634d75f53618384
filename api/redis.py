"""Namespace ``redis``: a key-value store in Redis, and a ping."""

from flask_restx import Namespace, Resource

from api.openapi import error_responses, register_models
from api.parsing import load_body
from api.schemas.redis import KeyOut, KeyPut, PingOut, key_out, key_put, ping_out
from services import keyvalue

ns = Namespace(
    "redis",
    description="String keys and values in Redis, kept under the app's key prefix. "
    "Every operation answers 503 promptly when Redis is down.",
    path="/redis",
)
models = register_models(ns, {"KeyPut": KeyPut, "KeyOut": KeyOut, "PingOut": PingOut})


@ns.route("/keys/<path:key>", endpoint="redis_key")
@ns.param("key", "1-200 printable characters; percent-encode spaces, '/' and non-ASCII")
class RedisKey(Resource):
    @ns.response(200, "The value and its remaining ttl", models["KeyOut"])
    @error_responses(ns, 400, 404, 503)
    def get(self, key):
        """Read a key."""
        return key_out.dump(keyvalue.get(key=key))

    @ns.expect(models["KeyPut"])
    @ns.response(201, "Created", models["KeyOut"])
    @ns.response(200, "Replaced", models["KeyOut"])
    @error_responses(ns, 400, 413, 415, 503)
    def put(self, key):
        """Create or replace a key."""
        body = load_body(key_put)
        entry, created = keyvalue.put(key=key, value=body["value"], ttl=body["ttl"])
        return key_out.dump(entry), 201 if created else 200

    @ns.response(204, "Deleted")
    @error_responses(ns, 400, 404, 503)
    def delete(self, key):
        """Delete a key."""
        keyvalue.delete(key=key)
        return "", 204


@ns.route("/ping", endpoint="redis_ping")
class RedisPing(Resource):
    @ns.response(200, "Redis answered", models["PingOut"])
    @error_responses(ns, 503)
    def get(self):
        """Round-trip latency to Redis."""
        return ping_out.dump({"latency_ms": keyvalue.ping()})
