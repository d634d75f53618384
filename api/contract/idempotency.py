"""The ``Idempotency-Key`` header: a retried write gets the first response back, not a second write."""

from __future__ import annotations

from flask import Response, current_app, g, request
from flask_restx.utils import unpack

from api.contract.operations import around, header
from services import idempotency, idempotency_keys

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
# What a replay must repeat besides status and body.
KEPT_HEADERS = ("Content-Type", "Location", "ETag")
DESCRIPTION = (
    "1-255 visible ASCII characters (else 400). A retry with the same key and request gets the first "
    f"response again ({REPLAYED}: true) without a second write; 409 while the first still runs, "
    "422 for another request with the same key, 503 when Redis is down."
)


def request_fingerprint() -> str:
    """The current request, as the idempotency store compares requests."""
    return idempotency.fingerprint(method=request.method, path=request.full_path, body=request.get_data())


def _replay_or_run(view):
    def run(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        caller = g.get("api_key", "")  # set by api.pipeline.auth; "" when auth is off
        outcome = idempotency.begin(key=key, caller=caller, fingerprint=request_fingerprint())
        if isinstance(outcome, idempotency.StoredResponse):
            replay = current_app.response_class(outcome.body, outcome.status, outcome.headers)
            replay.headers[REPLAYED] = "true"
            return replay
        try:
            with idempotency_keys.keyed(caller=caller, key=key, fingerprint=outcome.fingerprint) as keyed:
                try:
                    response = _response(view(*args, **kwargs))
                except Exception as error:  # a 4xx is an outcome to replay too: render it now
                    response = current_app.make_response(current_app.handle_user_exception(error))
        except BaseException:
            idempotency.release(claim=outcome)
            raise
        if response.status_code >= 500:
            # Nothing committed, or the outcome is unknown: either way the key's row in the
            # database tells the retry (it runs, or answers what the first attempt did).
            idempotency.release(claim=outcome)
            return response
        if keyed.replayed:  # the first attempt committed, but its answer was lost
            response.headers[REPLAYED] = "true"
        kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
        idempotency.complete(
            claim=outcome, status=response.status_code, headers=kept, body=response.get_data()
        )
        return response

    return run


def idempotent(view):
    """Honour (and document) Idempotency-Key on a write operation; put it above the others."""
    documented = header(
        HEADER,
        DESCRIPTION,
        pattern=idempotency.KEY_PATTERN,
        max_length=idempotency.KEY_MAX_LENGTH,
        errors=(409, 422, 503),
    )(view)
    return around(_replay_or_run)(documented)


def _response(rv) -> Response:
    """What RESTX would make of a resource's return value, made now so it can be stored."""
    if isinstance(rv, Response):
        return rv
    data, code, headers = unpack(rv)
    return current_app.extensions["wdapi.api"].make_response(data, code, headers=headers)
