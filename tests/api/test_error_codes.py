"""Every documented error status of every operation, provoked through HTTP.

Each (operation, status) in the served spec gets a request that must answer exactly that
status as problem+json. For the statuses with a single cause (401 no key, 413 too large,
415 not JSON, 429 budget spent, 503 dependency down) every operation is probed both ways:
the status is documented if and only if the operation answers it. The documents are those
of the app with API keys and rate limits (401 is documented where its settings make a key
necessary, 429 where they limit), both versions.
"""

from __future__ import annotations

import pytest

from api.contract.idempotency import HEADER as IDEMPOTENCY
from api.contract.idempotency import request_fingerprint
from api.contract.openapi import FRONT_LIMITS
from api.schemas.demo import ABORT_CODES, USER_ID_MAX_LENGTH
from extensions import amqp
from factory import create_app
from services import idempotency
from services.keyvalue import KEY_MAX_LENGTH
from tests.helpers.ports import dead_port, reachable
from tests.helpers.rabbit import unique
from tests.helpers.redis_support import TEST_REDIS_URL, redis_config
from tests.helpers.require import need

PREFIX = "/api/v1"
ABORT = "/exceptions/abort/{code}"
SINGLE_CAUSE = (401, 413, 415, 429, 503)
MAX_BODY = 64
BIG_BODY = {"pad": "x" * (2 * MAX_BODY)}
# A valid request per operation: bodies and queries; path values name things that do not exist.
BODIES = {
    ("/wdtests", "post"): {"name": "ada"},
    ("/wdtests/{wdtest_id}", "put"): {"name": "ada"},
    ("/wdtests/{wdtest_id}", "patch"): {"age": 3},
    ("/redis/keys/{key}", "put"): {"value": "v"},
    ("/rabbitmq/queues/{name}", "put"): {},
    ("/rabbitmq/queues/{name}/messages", "post"): {"body": 1},
    ("/rabbitmq/queues/{name}/messages/get", "post"): {},
}
QUERIES = {("/exceptions/divide", "get"): "a=1&b=2"}
INVALID_PATH_VALUES = {
    "key": "k" * (KEY_MAX_LENGTH + 1),
    "name": "amq.reserved",
    "wdtest_id": "a b",
    "user_id": "u" * (USER_ID_MAX_LENGTH + 1),
}
UNMATCHED_PATH_VALUES = {"index_id": "1234"}  # the regex converter refuses it: 404


def path_values() -> dict:
    return {
        "wdtest_id": "no-such-record",
        "key": unique("key"),
        "name": unique(),
        "user_id": "u",
        "index_id": "123",
    }


def documented(spec) -> dict[tuple[str, str], set[int]]:
    return {
        (path, method): {int(code) for code in op["responses"] if int(code) >= 400}
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    }


class Requests:
    """Valid or deliberately broken requests for one operation, against the test's apps."""

    def __init__(self, apps: dict, broker):
        self.apps = apps
        self.clients = {name: app.test_client() for name, app in apps.items()}
        self.broker = broker

    def send(self, app: str, path: str, method: str, *, values=None, query=None, **kwargs):
        url = PREFIX + path.format(**{**path_values(), **(values or {})})
        query = QUERIES.get((path, method)) if query is None else query
        if "json" not in kwargs and "data" not in kwargs and (path, method) in BODIES:
            kwargs["json"] = BODIES[(path, method)]
        return self.clients[app].open(url + (f"?{query}" if query else ""), method=method.upper(), **kwargs)

    def provoke(self, path: str, method: str, code: int):
        if path == ABORT:
            return self.send("live", path, method, values={"code": code})
        if code == 401:
            return self.send("keyed", path, method)
        if code == 413:
            return self.send("live", path, method, json=BIG_BODY)
        if code == 415:
            return self.send("live", path, method, data="x", content_type="text/plain")
        if code == 503:
            return self.send("dead", path, method)
        if code == 400:
            return self.invalid(path, method)
        if code == 404:
            return self.send("live", path, method, values=UNMATCHED_PATH_VALUES)
        if code == 409:
            return self.conflict(path, method)
        if code == 412:  # a tag for a record that does not exist
            return self.send("live", path, method, headers={"If-Match": '"1-stale"'})
        if code == 422:  # a key first used for another request
            key = unique("key")
            first = self.send("live", "/wdtests", "post", json={"name": "first"}, headers={IDEMPOTENCY: key})
            assert first.status_code == 201
            return self.send("live", path, method, headers={IDEMPOTENCY: key})
        if code == 428:
            return self.send("strict", path, method)
        if code == 429:  # the app's budget of one request a minute, spent by the first
            self.send("limited", path, method)
            return self.send("limited", path, method)
        return self.send("live", path, method)  # the operation's own demo error (500)

    def invalid(self, path: str, method: str):
        if (path, method) in QUERIES or path == "/wdtests" and method == "get":
            return self.send("live", path, method, query="nope=1")
        if method in ("post", "put", "patch") and path != "/demo/users/{user_id}":  # that one reads no body
            return self.send("live", path, method, data="{", content_type="application/json")
        if (path, method) == ("/wdtests/{wdtest_id}", "delete"):
            return self.send("live", path, method, headers={IDEMPOTENCY: "not visible ASCII"})
        return self.send("live", path, method, values=INVALID_PATH_VALUES)

    def conflict(self, path: str, method: str):
        if (path, method) == ("/wdtests", "post"):
            record = {"id": unique("id"), "name": "ada"}
            assert self.send("live", path, method, json=record).status_code == 201
            return self.send("live", path, method, json=record)
        if (path, method) == ("/rabbitmq/queues/{name}", "put"):
            name = self.broker.track(unique())
            assert (
                self.send("live", path, method, values={"name": name}, json={"max_length": 2}).status_code
                == 201
            )
            return self.send("live", path, method, values={"name": name}, json={"max_length": 3})
        if path == "/wdtests/{wdtest_id}":  # an Idempotency-Key whose first request still runs
            key, url = unique("key"), PREFIX + path.format(**path_values())
            app = self.apps["live"]
            with app.test_request_context(url, method=method.upper(), json=BODIES.get((path, method))):
                claim = idempotency.begin(key=key, caller="", fingerprint=request_fingerprint())
            assert isinstance(claim, idempotency.Claim)
            return self.clients["live"].open(
                url, method=method.upper(), json=BODIES.get((path, method)), headers={IDEMPOTENCY: key}
            )
        raise AssertionError(f"no way to provoke 409 on {method.upper()} {path}")


@pytest.fixture
def probe(sqlite_url, broker):
    if not reachable("127.0.0.1", int(TEST_REDIS_URL.rsplit(":", 1)[1].split("/")[0])):
        need(f"Redis at {TEST_REDIS_URL} (TEST_REDIS_URL) is not reachable")
    base = {"ENV_NAME": "test", "SQLALCHEMY_ECHO": False}
    live = {**base, "SQLALCHEMY_DATABASE_URI": sqlite_url, **redis_config(), "MAX_CONTENT_LENGTH": MAX_BODY}
    apps = {
        "live": create_app(live),
        "keyed": create_app({**live, "API_KEYS": "k" * 16, "RATELIMIT_ENABLED": True}),
        "limited": create_app({**live, "RATELIMIT_ENABLED": True, "RATELIMIT_APPLICATION": "1 per minute"}),
        "strict": create_app({**live, "REQUIRE_IF_MATCH": True}),
        "dead": create_app(
            {
                **base,
                "SQLALCHEMY_DATABASE_URI": "sqlite:////nonexistent-dir/wdapi.sqlite3",
                "REDIS_URL": f"redis://127.0.0.1:{dead_port()}/0",
                "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{dead_port()}/%2F",
            }
        ),
    }
    yield Requests(apps, broker)
    for app in apps.values():
        with app.app_context():
            amqp.close()


DOCUMENTS = pytest.mark.parametrize("document", ["swagger.json", "openapi.json"])


def keyed_spec(probe, document: str) -> dict:
    return probe.clients["keyed"].get(f"{PREFIX}/{document}").get_json()


@DOCUMENTS
def test_every_documented_error_is_provoked(probe, document):
    spec = keyed_spec(probe, document)
    wrong = []
    for (path, method), codes in sorted(documented(spec).items()):
        # gunicorn and nginx answer these before the app sees the request: tests/e2e/test_gunicorn_edges.py
        for code in sorted(codes - FRONT_LIMITS if path != ABORT else codes):
            response = probe.provoke(path, method, code)
            if response.status_code != code or response.mimetype != "application/problem+json":
                wrong.append(f"{method.upper()} {path}: documented {code}, got {response.status_code}")
    assert not wrong, "\n".join(wrong)


@DOCUMENTS
def test_single_cause_statuses_are_documented_exactly_where_they_occur(probe, document):
    spec = keyed_spec(probe, document)
    wrong = []
    for (path, method), codes in sorted(documented(spec).items()):
        if path == ABORT:
            continue  # answers the status in its path; provoked above
        for code in SINGLE_CAUSE:
            answered = probe.provoke(path, method, code).status_code == code
            if answered != (code in codes):
                state = "documented" if code in codes else "undocumented"
                wrong.append(f"{method.upper()} {path}: {code} {state}, answered: {answered}")
    assert not wrong, "\n".join(wrong)


@DOCUMENTS
def test_abort_documents_every_status_it_can_raise(probe, document):
    spec = keyed_spec(probe, document)
    assert documented(spec)[(ABORT, "get")] == set(ABORT_CODES)
