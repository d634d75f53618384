"""services.idempotency against the real Redis: claim, replay, mismatch, concurrency, outage."""

import pytest

from core.errors import Conflict, InvalidInput, Unavailable, Unprocessable
from services import idempotency
from tests.helpers.ports import dead_port
from tests.helpers.threads import together

FP = idempotency.fingerprint(method="POST", path="/api/v1/wdtests", body=b'{"name":"a"}')


def test_first_request_claims_then_its_response_is_replayed(app_ctx):
    claim = idempotency.begin(key="k1", caller="api-key", fingerprint=FP)
    assert isinstance(claim, idempotency.Claim)
    idempotency.complete(claim=claim, status=201, headers={"Location": "/x"}, body=b'{"id":"x"}\n')
    stored = idempotency.begin(key="k1", caller="api-key", fingerprint=FP)
    assert stored == idempotency.StoredResponse(201, {"Location": "/x"}, b'{"id":"x"}\n')


def test_the_same_key_for_another_request_is_refused(app_ctx):
    claim = idempotency.begin(key="k2", caller="c", fingerprint=FP)
    other = idempotency.fingerprint(method="POST", path="/api/v1/wdtests", body=b'{"name":"b"}')
    with pytest.raises(Unprocessable):  # while running
        idempotency.begin(key="k2", caller="c", fingerprint=other)
    idempotency.complete(claim=claim, status=201, headers={}, body=b"")
    with pytest.raises(Unprocessable):  # and once done
        idempotency.begin(key="k2", caller="c", fingerprint=other)
    patch = idempotency.fingerprint(method="PATCH", path="/api/v1/wdtests", body=b'{"name":"a"}')
    with pytest.raises(Unprocessable):
        idempotency.begin(key="k2", caller="c", fingerprint=patch)


def test_keys_are_per_caller(app_ctx):
    idempotency.begin(key="k3", caller="alice", fingerprint=FP)
    assert isinstance(idempotency.begin(key="k3", caller="bob", fingerprint=FP), idempotency.Claim)


def test_a_released_claim_lets_the_retry_run(app_ctx):
    claim = idempotency.begin(key="k4", caller="c", fingerprint=FP)
    idempotency.release(claim=claim)
    assert isinstance(idempotency.begin(key="k4", caller="c", fingerprint=FP), idempotency.Claim)


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "caf\u00e9", "tab\there"])
def test_bad_keys_are_invalid_input(app_ctx, key):
    with pytest.raises(InvalidInput):
        idempotency.begin(key=key, caller="c", fingerprint=FP)


def test_concurrent_requests_with_one_key_one_runs_the_others_conflict(app):
    def attempt():
        with app.app_context():
            try:
                return type(idempotency.begin(key="same", caller="c", fingerprint=FP)).__name__
            except Conflict:
                return "Conflict"

    assert sorted(together(*[attempt] * 8)) == ["Claim"] + ["Conflict"] * 7


@pytest.fixture
def app_config(request):
    return getattr(request, "param", {})


@pytest.mark.parametrize("app_config", [{"REDIS_URL": f"redis://127.0.0.1:{dead_port()}/0"}], indirect=True)
def test_redis_down_refuses_rather_than_risk_a_second_write(app_ctx):
    with pytest.raises(Unavailable):
        idempotency.begin(key="k5", caller="c", fingerprint=FP)


@pytest.mark.parametrize("app_config", [{"REDIS_URL": ""}], indirect=True)
def test_redis_disabled_refuses_too(app_ctx):
    with pytest.raises(Unavailable):
        idempotency.begin(key="k6", caller="c", fingerprint=FP)
