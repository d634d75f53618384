"""Production's refusals: each a one-line ConfigError naming the variable to change; loopback
and the explicit opt-outs start."""

import pika
import pytest

from settings import ConfigError, ProductionConfig, broker_login, config_class, is_loopback, load

PROD = {"ENV_NAME": "prod", "SECRET_KEY": "a-real-secret-for-tests", "API_KEYS": "k" * 20}


def refusal(**settings) -> str:
    with pytest.raises(ConfigError) as err:
        load({**PROD, **settings})
    message = str(err.value)
    assert "\n" not in message
    return message


def test_an_unset_app_env_is_production(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    assert config_class() is ProductionConfig
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load()


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        ({"RABBIT_HOST": "rabbit.internal"}, "RABBIT_USER"),
        ({"RABBIT_HOST": "10.0.0.5", "RABBIT_PASSWORD": "changed"}, "RABBIT_USER"),
        ({"AMQP_URL": "amqp://guest:guest@rabbit.internal:5672/%2F"}, "AMQP_URL"),
        ({"AMQP_URL": "amqps://rabbit.internal/%2F"}, "AMQP_URL"),  # no user: pika logs in as guest
    ],
)
def test_guest_on_a_remote_broker_is_refused(settings, variable):
    message = refusal(**settings)
    assert message.startswith(variable) and "guest" in message and "APP_ENV=prod" in message


@pytest.mark.parametrize(
    "settings",
    [
        {},  # the declared default: guest on 127.0.0.1
        {"RABBIT_HOST": "localhost"},
        {"RABBIT_HOST": "127.0.0.2"},
        {"AMQP_URL": "amqp://guest:guest@[::1]:5672/%2F"},
        {"RABBIT_HOST": "rabbit.internal", "RABBIT_USER": "wdapi", "RABBIT_PASSWORD": "s3cret"},
        {"AMQP_URL": "amqp://wdapi:s3cret@rabbit.internal:5672/%2F", "RABBIT_HOST": "elsewhere"},
        {"RABBIT_HOST": ""},  # no RabbitMQ
    ],
)
def test_local_guest_or_an_own_user_starts(settings):
    assert load({**PROD, **settings})["ENV_NAME"] == "prod"


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:guest@rabbit.internal:5672/%2F",
        "AMQPS://Rabbit.Internal/%2F",
        "amqp://w%40d:p%2Fw@[::1]:5673/vh",
        "amqp:///",
        "//rabbit.internal/",
        "amqp://u:p@rabbit.internal/%2F?heartbeat=5",
    ],
)
def test_the_broker_login_is_pikas_without_pika(url):
    params = pika.URLParameters(url)
    assert broker_login(url) == (params.credentials.username, params.host)


@pytest.mark.parametrize(
    "url", ["ftp://rabbit.internal/", "amqp://h:99999/", "amqp://h/?no_such_option=1", "amqp://wdapi@h/"]
)
def test_a_url_pika_refuses_is_refused_by_name(url):
    with pytest.raises((ValueError, TypeError)):
        pika.URLParameters(url)
    assert refusal(AMQP_URL=url).startswith("AMQP_URL: not an AMQP URL")


@pytest.mark.parametrize(
    "url",
    ["redis://cache.internal:6379/0", "rediss://10.0.0.7:6380/1", "redis://wdapi@cache.internal/0"],
)
def test_a_remote_redis_without_password_is_refused(url):
    message = refusal(REDIS_URL=url)
    assert message.startswith("REDIS_URL") and "REDIS_PASSWORD" in message


@pytest.mark.parametrize(
    "settings",
    [
        {},  # the declared default, 127.0.0.1
        {"REDIS_URL": "redis://localhost:6379/0"},
        {"REDIS_URL": "redis://[::1]:6379/0"},
        {"REDIS_URL": "unix:///run/redis/redis.sock"},
        {"REDIS_URL": "redis://:s3cret@cache.internal:6379/0"},
        {"REDIS_URL": "redis://cache.internal:6379/0?password=s3cret"},
        {"REDIS_URL": "redis://cache.internal:6379/0", "REDIS_PASSWORD": "s3cret"},
        {"REDIS_URL": ""},  # no Redis
    ],
)
def test_local_or_password_protected_redis_starts(settings):
    assert load({**PROD, **settings})["ENV_NAME"] == "prod"


@pytest.mark.parametrize("bind", ["0.0.0.0:8000", "10.0.0.3:8000", ":8000", "[::]:8000", "fd://3"])
def test_trusted_proxies_on_a_reachable_bind_is_refused(bind):
    message = refusal(TRUSTED_PROXIES=1, BIND=f"127.0.0.1:8001,{bind}")
    assert message.startswith("TRUSTED_PROXIES=1") and "BIND_PROXY_ONLY" in message and bind in message


@pytest.mark.parametrize(
    "settings",
    [
        {"TRUSTED_PROXIES": 1, "BIND": "127.0.0.1:8000,[::1]:8001,localhost:8002"},
        {"TRUSTED_PROXIES": 1, "BIND": "unix:/run/wdapi.sock"},
        {"TRUSTED_PROXIES": 2, "BIND": "0.0.0.0:8000", "BIND_PROXY_ONLY": "true"},
        {"TRUSTED_PROXIES": 0, "BIND": "0.0.0.0:8000"},  # no header believed
    ],
)
def test_trusted_proxies_on_loopback_or_acknowledged_starts(settings):
    assert load({**PROD, **settings})["ENV_NAME"] == "prod"


@pytest.mark.parametrize(
    "settings",
    [
        {"RABBIT_HOST": "rabbit.internal"},
        {"REDIS_URL": "redis://cache.internal:6379/0"},
        {"TRUSTED_PROXIES": 1, "BIND": "0.0.0.0:8000"},
    ],
)
def test_development_and_tests_are_not_refused(settings):
    for env in ("dev", "test"):
        assert load({**settings, "ENV_NAME": env})["ENV_NAME"] == env


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("LocalHost", True),
        ("localhost.", True),
        ("0.0.0.0", False),
        ("", False),
        (None, False),
        ("10.0.0.1", False),
        ("localhost.example", False),
        ("::", False),
    ],
)
def test_loopback_is_127_8_ipv6_one_and_localhost(host, loopback):
    assert is_loopback(host) is loopback
