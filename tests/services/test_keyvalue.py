"""The key-value service against the real Redis: prefixing, round trips, limits."""

import pytest

from core.errors import InvalidInput, NotFound, PayloadTooLarge
from extensions import redis_store
from services import keyvalue
from tests.helpers.redis_support import require_test_redis


@pytest.fixture
def kv(sqlite_app):
    require_test_redis()
    with sqlite_app.app_context():
        yield redis_store.state


def test_put_creates_then_replaces_and_drops_the_old_ttl(kv):
    entry, created = keyvalue.put(key="k", value="one", ttl=100)
    assert created and entry == keyvalue.Entry("k", "one", 100)
    assert 0 < keyvalue.get(key="k").ttl <= 100
    entry, created = keyvalue.put(key="k", value="two")
    assert not created and entry.ttl is None
    assert keyvalue.get(key="k") == keyvalue.Entry("k", "two", None)


@pytest.mark.parametrize(
    "value",
    ["", "nul\x00inside", "emoji 😀 and 漢字", "שלום rtl", "line\r\nbreaks\t", "\ufeffbom", "é" * 32768],
)
def test_values_round_trip_exactly(kv, value):
    keyvalue.put(key="v", value=value)
    assert keyvalue.get(key="v").value == value


@pytest.mark.parametrize("key", ["a", "with space", "ключ/路径:é", "😀", "%41", "k" * 200])
def test_printable_keys_up_to_200_characters(kv, key):
    keyvalue.put(key=key, value="x")
    assert keyvalue.get(key=key).key == key
    assert kv.client.get(kv.key("kv", key)) == b"x"


@pytest.mark.parametrize("key", ["", "k" * 201, "tab\there", "new\nline", "\x00", "\u200b"])
def test_other_keys_are_invalid(kv, key):
    for call in (
        lambda: keyvalue.get(key=key),
        lambda: keyvalue.put(key=key, value="x"),
        lambda: keyvalue.delete(key=key),
    ):
        with pytest.raises(InvalidInput) as err:
            call()
        assert "key" in err.value.extra["errors"]


def test_value_limit_is_64_kib_of_utf8(kv):
    keyvalue.put(key="big", value="x" * 65536)
    with pytest.raises(PayloadTooLarge):
        keyvalue.put(key="big", value="x" * 65537)
    with pytest.raises(PayloadTooLarge):
        keyvalue.put(key="big", value="é" * 32769)  # 65538 bytes in 32769 characters
    assert len(keyvalue.get(key="big").value) == 65536


def test_keys_outside_the_namespace_are_unreachable(kv):
    kv.client.set(kv.key("secret"), "mine")
    kv.client.set(kv.key("cache", "wdtest", "v1", "x"), "cached")
    with pytest.raises(NotFound):
        keyvalue.get(key="secret")
    with pytest.raises(InvalidInput):  # a dot segment is no key at all
        keyvalue.delete(key="../secret")
    keyvalue.put(key="secret", value="yours")
    assert kv.client.get(kv.key("secret")) == b"mine"
    assert kv.client.get(kv.key("cache", "wdtest", "v1", "x")) == b"cached"


def test_delete_then_404(kv):
    keyvalue.put(key="gone", value="x")
    keyvalue.delete(key="gone")
    with pytest.raises(NotFound):
        keyvalue.delete(key="gone")
    with pytest.raises(NotFound):
        keyvalue.get(key="gone")


def test_ping_measures_milliseconds(kv):
    assert 0 < keyvalue.ping() < 1000
