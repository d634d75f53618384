"""Liveness and readiness against the real local services, and with them down."""

import time

import pytest

from extensions import db
from factory import create_app
from services import health
from tests.conftest import need, reachable
from tests.ops_support import dead_port

REDIS_URL = "redis://127.0.0.1:6379/15"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
DEAD = dead_port()
DEAD_REDIS = f"redis://127.0.0.1:{DEAD}/0"
DEAD_AMQP = f"amqp://guest:guest@127.0.0.1:{DEAD}/%2F"


@pytest.fixture
def http(app):
    return app.test_client()


def services_up():
    if not reachable("127.0.0.1", 6379):
        need("Redis at 127.0.0.1:6379 is not reachable")
    if not reachable("127.0.0.1", 5672):
        need("RabbitMQ at 127.0.0.1:5672 is not reachable")


def test_healthz(http):
    response = http.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("app_config", [{"REDIS_URL": REDIS_URL, "AMQP_URL": AMQP_URL}])
def test_ready_with_every_service_up(http):
    services_up()
    response = http.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "database": "ok",
        "redis": "ok",
        "rabbitmq": "ok",
        "required": ["database"],
    }
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("app_config", [{"REDIS_URL": DEAD_REDIS, "AMQP_URL": DEAD_AMQP}])
def test_optional_dependencies_down_still_ready(http):
    started = time.monotonic()
    response = http.get("/readyz")
    assert time.monotonic() - started < 10  # generous: each probe has a 2 s timeout
    assert response.status_code == 200
    body = response.get_json()
    assert (body["database"], body["redis"], body["rabbitmq"]) == ("ok", "down", "down")


@pytest.mark.parametrize(
    "app_config",
    [{"REDIS_URL": DEAD_REDIS, "AMQP_URL": AMQP_URL, "READY_REQUIRES": "database,redis,rabbitmq"}],
)
def test_required_redis_down_is_503(http):
    services_up()
    response = http.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["redis"] == "down" and body["rabbitmq"] == "ok"
    assert body["required"] == ["database", "redis", "rabbitmq"]


@pytest.mark.parametrize(
    "app_config", [{"REDIS_URL": REDIS_URL, "AMQP_URL": DEAD_AMQP, "READY_REQUIRES": "rabbitmq"}]
)
def test_required_rabbitmq_down_is_503(http):
    services_up()
    response = http.get("/readyz")
    assert response.status_code == 503 and response.get_json()["rabbitmq"] == "down"


def test_empty_urls_are_disabled(app_ctx):
    # The view passes REDIS_URL/AMQP_URL as configured; an empty one turns the probe off.
    results = health.check(engine=db.engine, redis_url="", amqp_url=None, timeout=1.0)
    assert results == {"database": "ok", "redis": "disabled", "rabbitmq": "disabled"}


def test_database_down_is_503():
    url = f"mysql+pymysql://root@127.0.0.1:{DEAD}/nothing"
    app = create_app(
        {"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": DEAD_REDIS, "AMQP_URL": DEAD_AMQP}
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("app_config", [{"API_KEYS": "k" * 16, "API_READ_AUTH": True}])
def test_probes_need_no_key(http):
    assert http.get("/healthz").status_code == 200
    assert http.get("/readyz").status_code in (200, 503)
