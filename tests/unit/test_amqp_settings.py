"""AMQP settings and queue-name rules: no broker, no app beyond its config."""

import pytest

from core.errors import InvalidInput
from extensions.amqp_pika import connection_parameters
from services.rabbitmq import check_name
from settings import defaults, load

BASE = defaults()
TEST = {"ENV_NAME": "test"}


def test_default_url_is_local_guest():
    assert load(TEST)["AMQP_URL"] == "amqp://guest:guest@127.0.0.1:5672/%2F"


def test_url_is_built_from_the_tutorials_rabbit_settings_with_quoting():
    config = load(
        {
            **TEST,
            "RABBIT_USER": "wd",
            "RABBIT_PASSWORD": "p@ss/:",
            "RABBIT_HOST": "localhost",
            "RABBIT_PORT": "5673",
        }
    )
    assert config["AMQP_URL"] == "amqp://wd:p%40ss%2F%3A@localhost:5673/%2F"
    params = connection_parameters(config)
    assert (params.host, params.port, params.credentials.password) == ("localhost", 5673, "p@ss/:")


def test_amqp_url_wins_over_rabbit_settings():
    config = load({**TEST, "AMQP_URL": "amqp://u:p@127.0.0.1:5999/vh", "RABBIT_HOST": "elsewhere"})
    params = connection_parameters(config)
    assert (params.host, params.port, params.virtual_host) == ("127.0.0.1", 5999, "vh")


def test_no_amqp_url_and_no_rabbit_host_disables_rabbitmq():
    assert load({**TEST, "RABBIT_HOST": ""})["AMQP_URL"] == ""


def test_parameters_carry_heartbeat_and_timeouts_from_settings():
    config = {**BASE, "AMQP_URL": "amqp://guest:guest@127.0.0.1/%2F?heartbeat=5&socket_timeout=30"}
    params = connection_parameters(config)
    assert params.heartbeat == BASE["AMQP_HEARTBEAT"]
    assert params.socket_timeout == params.stack_timeout == BASE["AMQP_CONNECT_TIMEOUT"] < 2
    assert params.blocked_connection_timeout == BASE["AMQP_BLOCKED_TIMEOUT"]
    assert params.connection_attempts == 1


@pytest.mark.parametrize("name", ["queuetest2", "a", "A.b_c-d:e", "x" * 200, "amq"])
def test_valid_queue_names(name):
    check_name(name)


@pytest.mark.parametrize("name", ["", "x" * 201, "has space", "slash/", "é", "q*", "amq.", "amq.direct"])
def test_invalid_queue_names_are_invalid_input(name):
    with pytest.raises(InvalidInput) as err:
        check_name(name)
    assert "name" in err.value.extra["errors"]
