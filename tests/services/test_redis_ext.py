"""The Redis extension: settings, lazy per-process pool, rate-limited outage warnings."""

import logging

import pytest

from core.errors import Unavailable
from extensions.redis_store import BlockingSentinelPool, RateLimitedWarning
from factory import create_app
from settings import ConfigError

BASE = {"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://", "SQLALCHEMY_ECHO": False}


def make_app(**config):
    return create_app({**BASE, **config})


def test_defaults_match_the_issue():
    app = create_app({**BASE})
    config = app.config
    assert config["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert config["REDIS_MAX_CONNECTIONS"] == 10
    assert config["REDIS_KEY_PREFIX"] == "wdapi:"
    assert config["CACHE_TTL"] == 300
    assert config["REDIS_CONNECT_TIMEOUT"] + config["REDIS_SOCKET_TIMEOUT"] < 1


def test_factory_opens_no_connection_and_pool_is_built_lazily():
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens: would fail if it connected
    state = app.extensions["redis"]
    assert state._client is None
    client = state.client
    assert client is state.client  # one pool per process
    pool = client.connection_pool
    assert pool.max_connections == 10
    assert pool.connection_kwargs["socket_connect_timeout"] == 0.25
    assert pool.connection_kwargs["socket_timeout"] == 0.5
    assert pool.connection_kwargs["retry"].get_retries() == 0


def test_pool_is_rebuilt_in_another_process():
    state = make_app().extensions["redis"]
    first = state.client
    state._pid = -1  # what a forked worker sees: the recorded pid is not its own
    assert state.client is not first
    assert state.client.connection_pool is not first.connection_pool


def test_env_overrides(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6390/3")
    monkeypatch.setenv("REDIS_MAX_CONNECTIONS", "4")
    monkeypatch.setenv("REDIS_KEY_PREFIX", "other:")
    monkeypatch.setenv("CACHE_TTL", "60")
    monkeypatch.setenv("REDIS_PASSWORD", "s3cret")
    app = create_app({**BASE})
    state = app.extensions["redis"]
    assert (state.url, state.max_connections, state.prefix, app.config["CACHE_TTL"]) == (
        "redis://127.0.0.1:6390/3",
        4,
        "other:",
        60,
    )
    kwargs = state.client.connection_pool.connection_kwargs
    assert kwargs["password"] == "s3cret" and kwargs["db"] == 3 and kwargs["port"] == 6390


def test_password_in_url_wins_and_never_reaches_logs():
    state = make_app(REDIS_URL="redis://:inurl@127.0.0.1:6379/0", REDIS_PASSWORD="other").extensions["redis"]
    assert state.client.connection_pool.connection_kwargs["password"] == "inurl"
    assert "inurl" not in state.safe_url


@pytest.mark.parametrize(
    "config",
    [
        {"REDIS_URL": "http://127.0.0.1:6379"},
        {"REDIS_MAX_CONNECTIONS": "many"},
        {"REDIS_MAX_CONNECTIONS": 0},
        {"REDIS_SOCKET_TIMEOUT": -1},
        {"CACHE_TTL": "soon"},
        {"REDIS_SENTINELS": "127.0.0.1"},
        {"REDIS_SENTINELS": "127.0.0.1:26379,host:port"},
        {"REDIS_SENTINELS": "127.0.0.1:26379", "REDIS_SENTINEL_MASTER": ""},
        {"REDIS_WAIT_REPLICAS": -1},
        {"REDIS_WAIT_REPLICAS": 1, "REDIS_WAIT_TIMEOUT": 0.5},  # not below the socket timeout
    ],
)
def test_bad_settings_refuse_to_start(config):
    with pytest.raises(ConfigError):
        make_app(**config)


def test_sentinel_mode_builds_a_bounded_master_pool_lazily():
    # Nothing listens on these ports: building the client must not connect.
    state = make_app(
        REDIS_URL="", REDIS_SENTINELS="127.0.0.1:1, 127.0.0.1:2", REDIS_SENTINEL_MASTER="m"
    ).extensions["redis"]
    assert state.enabled and state.sentinels == [("127.0.0.1", 1), ("127.0.0.1", 2)]
    assert "127.0.0.1:1,127.0.0.1:2" in state.safe_url
    pool = state.client.connection_pool
    assert isinstance(pool, BlockingSentinelPool) and pool.service_name == "m" and pool.is_master
    assert (pool.max_connections, pool.timeout) == (10, 0.2)
    assert pool.connection_kwargs["socket_connect_timeout"] == 0.25
    assert pool.connection_kwargs["socket_timeout"] == 0.5
    sentinel = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert (sentinel["socket_connect_timeout"], sentinel["socket_timeout"]) == (0.25, 0.5)
    with pytest.raises(Unavailable):  # no sentinel answers: a prompt 503, not a hang
        with state.session() as client:
            client.ping()


def test_keys_are_built_under_the_prefix():
    state = make_app(REDIS_KEY_PREFIX="p:").extensions["redis"]
    assert state.key("kv", "a b") == "p:kv:a b"


def test_rate_limited_warning_logs_once_then_counts(caplog):
    logger = logging.getLogger("test.ratelimit")
    warn = RateLimitedWarning(logger, interval=3600)
    with caplog.at_level(logging.WARNING, logger="test.ratelimit"):
        assert [warn("down %s", i) for i in range(5)] == [True, False, False, False, False]
        warn._next_at = 0  # the interval has passed
        assert warn("down %s", 5)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["down 0 (0 similar warnings held back)", "down 5 (4 similar warnings held back)"]


def test_one_command_answers_raw_and_a_failed_connection_reconnects():
    """extensions.redis_store.one_command: the reply as Redis sends it, an error reply leaves
    the connection in step, and one that fails the call (RedisError, as the client's) is
    closed and replaced at the next checkout."""
    import redis

    from extensions.redis_store import one_command
    from tests.helpers.faultproxy import FaultProxy
    from tests.helpers.redis_support import TEST_REDIS_URL, redis_test_prefix, require_test_redis

    require_test_redis()
    url = redis.connection.parse_url(TEST_REDIS_URL)
    key = redis_test_prefix() + "one"
    with FaultProxy(url.get("host", "127.0.0.1"), url.get("port", 6379)) as proxy:
        client = redis.Redis(
            connection_pool=redis.BlockingConnectionPool(
                host=proxy.host, port=proxy.port, db=url.get("db", 0), max_connections=1, socket_timeout=0.5
            )
        )
        try:
            client.set(key, b"v")
            assert one_command(client, "MGET", key, key + ":none") == [b"v", None]
            with pytest.raises(redis.ResponseError):
                one_command(client, "INCR", key)  # not an integer: an error reply
            assert one_command(client, "GET", key) == b"v"  # the same connection, in step
            proxy.cut()
            assert one_command(client, "GET", key) == b"v"  # the pool's checkout replaced it
            proxy.mode = "blackhole"
            with pytest.raises(redis.TimeoutError):
                one_command(client, "GET", key)
            proxy.mode = "forward"
            assert one_command(client, "GET", key) == b"v"  # the failed one was closed: a new one
            # A client bound to one connection (session(replicated=True)) keeps it: WAIT counts it.
            pinned = redis.Redis(connection_pool=client.connection_pool, single_connection_client=True)
            assert one_command(pinned, "CLIENT", "ID") == pinned.client_id()
            pinned.close()
        finally:
            client.delete(key)
            client.close()
            client.connection_pool.disconnect()  # ours: the client does not close a pool it was given


def test_run_script_loads_a_script_redis_does_not_know():
    import uuid

    import redis
    from redis.commands.core import Script

    from extensions.redis_store import run_script
    from tests.helpers.redis_support import TEST_REDIS_URL, redis_test_prefix, require_test_redis

    require_test_redis()
    client = redis.Redis.from_url(TEST_REDIS_URL)
    script = Script(None, f"return {{KEYS[1], ARGV[1], '{uuid.uuid4().hex}'}}".encode())  # type: ignore[arg-type]
    key = redis_test_prefix() + "script"
    try:
        assert client.script_exists(script.sha) == [False]  # new text: no Redis has it
        first = run_script(script, client, (key,), (b"a",))  # NOSCRIPT, then loaded and run
        assert client.script_exists(script.sha) == [True]
        assert run_script(script, client, (key,), (b"b",))[:2] == [key.encode(), b"b"]  # EVALSHA
        assert first[:2] == [key.encode(), b"a"]
    finally:
        client.close()
