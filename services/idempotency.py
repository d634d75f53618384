"""Idempotent retries: the first complete response to a keyed request, kept in Redis.

``<prefix>idem:<caller>:<key>`` (``caller``: a hash of the caller's API key) holds
``{"state": "running", ...}`` while the first request runs, then ``{"state": "done", ...}``
with its response for IDEMPOTENCY_TTL. Claiming is one ``SET NX``, so of two requests
with one key exactly one runs. Every check fails closed: when Redis cannot be reached
the request is refused (Unavailable) rather than risk a second write.

Behind Sentinel a failover loses what had not reached a replica: a lost claim lets a retry
run the request a second time, a lost response turns a replay into 409 until the claim's
RUNNING_TTL ends, then a second run. ``REDIS_WAIT_REPLICAS`` bounds it: a claim runs only
once that many replicas have it (``WAIT``, else 503), and a response not acknowledged in
time is logged. Sentinel promotes the replica with the most data, so it has the claim.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app
from redis.commands.core import Script

from core.errors import Conflict, InvalidInput, Unavailable, Unprocessable
from extensions import redis_store

log = logging.getLogger(__name__)

KEY_MAX_LENGTH = 255
# 1-255 visible ASCII characters, as a JSON Schema pattern (the documents carry it).
KEY_PATTERN = rf"^[!-~]{{1,{KEY_MAX_LENGTH}}}$"
# A running claim outlives any request (gunicorn's worker timeout ends it first), and
# frees the key if the worker died: the request then had no committed effect.
RUNNING_TTL = 300

# KEYS: the entry. ARGV: the claim's token, the new value ("" deletes), its ttl.
# Only the claim's owner may complete or release it.
_SETTLE = Script(
    None,  # type: ignore[arg-type]  # no client: each call passes one
    b"""
local current = redis.call('GET', KEYS[1])
if not current or cjson.decode(current)['token'] ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 1
""",
)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Claim:
    """The right to run the first request with a key; settle it with ``complete`` or ``release``."""

    entry: str
    token: str
    fingerprint: str


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same request" for one key."""
    digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _check_key(key: str) -> None:
    if re.fullmatch(KEY_PATTERN, key) is None:
        message = f"Must be 1-{KEY_MAX_LENGTH} visible ASCII characters."
        raise InvalidInput(f"Invalid Idempotency-Key: {message}", {"Idempotency-Key": [message]})


def caller_hash(caller: str) -> str:
    """Whose keys: a hash of the caller's API key (never stored in clear)."""
    return hashlib.sha256(caller.encode()).hexdigest()[:32]


def _entry(key: str, caller: str) -> str:
    # Keys are per caller: one client can neither replay nor block another's responses.
    return redis_store.state.key("idem", caller_hash(caller), key)


def begin(*, key: str, caller: str, fingerprint: str) -> Claim | StoredResponse:
    """Claim ``key`` for a first request, or return the response stored by the first one.
    Raises InvalidInput (bad key), Conflict (the first is still running), Unprocessable
    (the key was used for a different request), Unavailable (Redis down or disabled)."""
    _check_key(key)
    entry = _entry(key, caller)
    token = uuid.uuid4().hex
    running = json.dumps({"state": "running", "token": token, "fingerprint": fingerprint})
    for _ in range(3):  # the first run may release its claim between our SET and GET
        with redis_store.session(replicated=True) as client:
            if client.set(entry, running, nx=True, ex=RUNNING_TTL):
                if not redis_store.state.replicas_acked(client):
                    client.delete(entry)  # a claim a failover may lose must not run the request
                    raise Unavailable("Redis could not replicate the Idempotency-Key in time; try again.")
                return Claim(entry, token, fingerprint)
            raw = client.get(entry)
        if raw is None:
            continue
        stored = json.loads(raw)
        if stored["fingerprint"] != fingerprint:
            raise Unprocessable(
                "This Idempotency-Key was used for a different request (method, path or body)."
            )
        if stored["state"] == "running":
            raise Conflict("A request with this Idempotency-Key is still in progress; retry later.")
        return StoredResponse(stored["status"], stored["headers"], base64.b64decode(stored["body"]))
    raise Conflict("A request with this Idempotency-Key is still in progress; retry later.")


def complete(*, claim: Claim, status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Store the first request's response for IDEMPOTENCY_TTL. Never raises: the write is
    done; if Redis fails now, the running claim blocks retries (409) until it expires."""
    value = json.dumps(
        {
            "state": "done",
            "token": claim.token,
            "fingerprint": claim.fingerprint,
            "status": status,
            "headers": dict(headers),
            "body": base64.b64encode(body).decode(),
        }
    )
    ttl = current_app.config["IDEMPOTENCY_TTL"]
    try:
        with redis_store.session(replicated=True) as client:
            _SETTLE(keys=(claim.entry,), args=(claim.token, value, ttl), client=client)
            if not redis_store.state.replicas_acked(client):
                log.warning("Idempotency-Key response stored on the Redis master only: no replica has it yet")
    except Unavailable:
        log.warning("Idempotency-Key response not stored: Redis is unavailable")


def release(*, claim: Claim) -> None:
    """Free the key after a failed first request, so a retry runs. Safe also when the
    outcome is unknown: the key's row in the database (``services.idempotency_keys``)
    tells the retry whether the write committed."""
    try:
        # No WAIT: a lost release only blocks retries (409) until RUNNING_TTL.
        with redis_store.session() as client:
            _SETTLE(keys=(claim.entry,), args=(claim.token, "", 0), client=client)
    except Unavailable:
        log.warning("Idempotency-Key claim not released: Redis is unavailable")
