"""Liveness and readiness against the real local services, and with them down."""

import shutil
import subprocess
import time

import pytest

from extensions import db
from factory import create_app
from tests.helpers.ports import dead_port, free_port, reachable
from tests.helpers.require import need, require_port

REDIS_URL = "redis://127.0.0.1:6379/15"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
DEAD = dead_port()
DEAD_REDIS = f"redis://127.0.0.1:{DEAD}/0"
DEAD_AMQP = f"amqp://guest:guest@127.0.0.1:{DEAD}/%2F"


def services_up():
    require_port("127.0.0.1", 6379, "Redis")
    require_port("127.0.0.1", 5672, "RabbitMQ")


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("app_config", [{"REDIS_URL": REDIS_URL, "AMQP_URL": AMQP_URL}])
def test_ready_with_every_service_up(client):
    services_up()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "database": "ok",
        "redis": "ok",
        "rabbitmq": "ok",
        "required": ["database"],
        "database_circuit": "closed",
    }
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("app_config", [{"REDIS_URL": DEAD_REDIS, "AMQP_URL": DEAD_AMQP}])
def test_optional_dependencies_down_still_ready(client):
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 10  # generous: each probe has a 2 s timeout
    assert response.status_code == 200
    body = response.get_json()
    assert (body["database"], body["redis"], body["rabbitmq"]) == ("ok", "down", "down")


@pytest.mark.parametrize(
    "app_config",
    [{"REDIS_URL": DEAD_REDIS, "AMQP_URL": AMQP_URL, "READY_REQUIRES": "database,redis,rabbitmq"}],
)
def test_required_redis_down_is_503(client):
    services_up()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["redis"] == "down" and body["rabbitmq"] == "ok"
    assert body["required"] == ["database", "redis", "rabbitmq"]


@pytest.mark.parametrize(
    "app_config", [{"REDIS_URL": REDIS_URL, "AMQP_URL": DEAD_AMQP, "READY_REQUIRES": "rabbitmq"}]
)
def test_required_rabbitmq_down_is_503(client):
    services_up()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["rabbitmq"] == "down"


@pytest.fixture
def redis_with_password(tmp_path):
    """A private redis-server on a free loopback port that requires a password."""
    if shutil.which("redis-server") is None:
        need("redis-server is not installed")
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--requirepass", "pw-ready"]
    server = subprocess.Popen([*args, "--save", "", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not reachable("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=5)


def test_readiness_uses_redis_password(make_app, redis_with_password):
    # REDIS_PASSWORD applies to the probe as to the app's pool (the URL carries none).
    config = {"REDIS_URL": redis_with_password, "REDIS_PASSWORD": "pw-ready", "READY_REQUIRES": "redis"}
    response = make_app(**config).test_client().get("/readyz")
    assert response.status_code == 200 and response.get_json()["redis"] == "ok"


def test_disabled_dependencies_are_reported_and_answer_503(make_app):
    """REDIS_URL empty, and AMQP_URL and RABBIT_HOST empty: the app runs without them."""
    client = make_app(REDIS_URL="", AMQP_URL="", RABBIT_HOST="").test_client()
    body = client.get("/readyz").get_json()
    assert (body["database"], body["redis"], body["rabbitmq"]) == ("ok", "disabled", "disabled")
    # Records work without the cache and with events left in the outbox.
    assert client.post("/api/v1/wdtests", json={"id": "d", "name": "x"}).status_code == 201
    assert client.get("/api/v1/wdtests/d").headers["X-Cache"] == "MISS"
    assert client.patch("/api/v1/wdtests/d", json={"age": 3}).status_code == 200
    assert client.get("/api/v1/wdtests/d").get_json()["age"] == 3
    for response in (client.get("/api/v1/redis/ping"), client.get("/api/v1/rabbitmq/queues/q")):
        assert response.status_code == 503
        assert "disabled" in response.get_json()["detail"]


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
def test_probes_need_no_key(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
