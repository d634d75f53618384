"""The Wdtest read-through cache against real Redis and both databases, including the
race where a slow reader would put back a row older than a finished write."""

import json
import threading

import pytest

from core.errors import NotFound
from extensions import db, redis_store
from services import cache, wdtests
from tests.helpers.redis_support import require_test_redis


def render(record) -> bytes:
    return json.dumps({"id": record.id, "name": record.name, "age": record.age}).encode()


render.version = "r1"  # the format's version, as api.contract.rendered.JSONRenderer carries it


def read(wdtest_id: str):
    rendered = wdtests.get_rendered(wdtest_id=wdtest_id, render=render)
    return json.loads(rendered.body), rendered.hit


def entry_key(wdtest_id: str) -> str:
    return cache._keys(wdtests.CACHE_KIND, wdtest_id)[0]


@pytest.fixture
def app_config(request):
    return getattr(request, "param", {})


@pytest.fixture
def ctx(app_ctx):
    require_test_redis()
    return app_ctx


def test_miss_then_hit_with_the_configured_ttl(ctx):
    wdtests.create(data={"id": "c", "name": "wade", "age": 20})
    assert read("c") == ({"id": "c", "name": "wade", "age": 20}, False)
    assert read("c") == ({"id": "c", "name": "wade", "age": 20}, True)
    assert 0 < redis_store.client.ttl(entry_key("c")) <= ctx.config["CACHE_TTL"]


def test_every_write_invalidates(ctx):
    wdtests.create(data={"id": "w", "name": "one"})
    read("w")
    wdtests.update(wdtest_id="w", changes={"name": "two"})
    assert read("w") == ({"id": "w", "name": "two", "age": None}, False)
    assert read("w")[1] is True
    wdtests.delete(wdtest_id="w")
    assert redis_store.client.exists(entry_key("w")) == 0
    with pytest.raises(NotFound):
        read("w")
    wdtests.create(data={"id": "w", "name": "three"})
    assert read("w") == ({"id": "w", "name": "three", "age": None}, False)


def test_missing_records_are_not_cached(ctx):
    with pytest.raises(NotFound):
        read("nope")
    assert redis_store.client.exists(entry_key("nope")) == 0


@pytest.mark.parametrize("app_config", [{"CACHE_TTL": 0}], indirect=True)
def test_cache_ttl_zero_turns_the_cache_off(ctx):
    wdtests.create(data={"id": "off", "name": "x"})
    assert [read("off")[1] for _ in range(3)] == [False, False, False]
    assert redis_store.client.exists(entry_key("off")) == 0


def test_slow_reader_cannot_put_back_a_row_older_than_a_finished_write(ctx, database_url, make_app):
    """Reader (instance B) reads the old row, then stalls; the writer (instance A)
    commits and invalidates; the reader resumes and tries to fill the cache."""
    wdtests.create(data={"id": "r", "name": "old", "age": 1})
    # A second app instance sharing the database and the Redis namespace.
    other = make_app(database_url, REDIS_KEY_PREFIX=ctx.config["REDIS_KEY_PREFIX"])
    loaded, resume, result = threading.Event(), threading.Event(), {}

    def stalled_render(record):
        body = render(record)
        loaded.set()
        assert resume.wait(10)
        return body

    stalled_render.version = render.version

    def reader():
        with other.app_context():
            result["read"] = wdtests.get_rendered(wdtest_id="r", render=stalled_render)
            db.session.remove()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert loaded.wait(10), "the reader never reached the database"
        wdtests.update(wdtest_id="r", changes={"name": "new"})  # commit + invalidate, returns
    finally:
        resume.set()
        thread.join(10)
    with other.app_context():
        db.engine.dispose()

    body, _, hit = result["read"]
    assert json.loads(body)["name"] == "old" and not hit  # it began before the write: fine
    assert redis_store.client.get(entry_key("r")) is None, "the stale row was put back"
    assert read("r") == ({"id": "r", "name": "new", "age": 1}, False)
    assert read("r") == ({"id": "r", "name": "new", "age": 1}, True)


def test_reader_that_started_after_the_write_still_fills(ctx):
    wdtests.create(data={"id": "f", "name": "a"})
    wdtests.update(wdtest_id="f", changes={"name": "b"})
    assert read("f")[1] is False
    assert read("f") == ({"id": "f", "name": "b", "age": None}, True)


def dump_page(page) -> bytes:
    return json.dumps({"names": [r.name for r in page.items], "total": page.total}).encode()


dump_page.version = "p1"


def read_page(**query):
    rendered = wdtests.get_all_cached(render=dump_page, **query)
    return json.loads(rendered.body), rendered.hit


def test_list_pages_are_cached_per_query(ctx):
    wdtests.create(data={"id": "1", "name": "a"})
    wdtests.create(data={"id": "2", "name": "b"})
    assert read_page() == ({"names": ["a", "b"], "total": 2}, False)
    assert read_page() == ({"names": ["a", "b"], "total": 2}, True)
    assert read_page(filters={"name": "b"}) == ({"names": ["b"], "total": 1}, False)
    assert read_page(sort=["-id"]) == ({"names": ["b", "a"], "total": 2}, False)
    assert read_page(sort=["-id"])[1] is True


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (lambda: wdtests.create(data={"id": "3", "name": "c"}), ["a", "b", "c"]),
        (lambda: wdtests.update(wdtest_id="2", changes={"name": "z"}), ["a", "z"]),
        (lambda: wdtests.delete(wdtest_id="1"), ["b"]),
    ],
)
def test_any_write_makes_every_cached_page_stale(ctx, write, expected):
    wdtests.create(data={"id": "1", "name": "a"})
    wdtests.create(data={"id": "2", "name": "b"})
    read_page()
    assert read_page()[1] is True
    write()
    assert read_page() == ({"names": expected, "total": len(expected)}, False)
    assert read_page()[1] is True


def test_slow_list_reader_cannot_put_back_a_page_older_than_a_finished_write(ctx, database_url, make_app):
    wdtests.create(data={"id": "r", "name": "old"})
    other = make_app(database_url, REDIS_KEY_PREFIX=ctx.config["REDIS_KEY_PREFIX"])
    loaded, resume, result = threading.Event(), threading.Event(), {}

    def stalled_dump(page):
        body = dump_page(page)
        loaded.set()
        assert resume.wait(10)
        return body

    stalled_dump.version = dump_page.version

    def reader():
        with other.app_context():
            rendered = wdtests.get_all_cached(render=stalled_dump)
            result["read"] = json.loads(rendered.body), rendered.hit
            db.session.remove()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert loaded.wait(10), "the reader never reached the database"
        wdtests.update(wdtest_id="r", changes={"name": "new"})
    finally:
        resume.set()
        thread.join(10)
    with other.app_context():
        db.engine.dispose()

    assert result["read"] == ({"names": ["old"], "total": 1}, False)
    assert read_page() == ({"names": ["new"], "total": 1}, False), "the stale page was served"
    assert read_page()[1] is True


def test_an_entry_of_another_format_is_a_miss_and_replaced(ctx):
    wdtests.create(data={"id": "v", "name": "wade"})
    assert read("v")[1] is False and read("v")[1] is True

    def render_v2(record) -> bytes:
        return b'{"v2":true}'

    render_v2.version = "r2"
    assert wdtests.get_rendered(wdtest_id="v", render=render_v2)[::2] == (b'{"v2":true}', False)
    assert wdtests.get_rendered(wdtest_id="v", render=render_v2)[::2] == (b'{"v2":true}', True)
    assert read("v")[1] is False  # and back: never the other format's body


def test_a_hit_carries_the_revision_and_the_page_its_numbers(ctx):
    """What the view needs besides the bytes comes with them, from a hit as from a miss."""
    created = wdtests.create(data={"id": "e", "name": "wade"})
    assert [wdtests.get_rendered(wdtest_id="e", render=render)[1:] for _ in "ab"] == [
        (created.revision, False),
        (created.revision, True),
    ]
    wdtests.create(data={"id": "f", "name": "other"})
    for hit in (False, True):
        rendered = wdtests.get_all_cached(render=dump_page, per_page=1, page=1)
        assert rendered.hit is hit
        page = rendered.page
        assert (page.page, page.per_page, page.total, page.pages) == (1, 1, 2, 2)
        assert page.next_after == [[], ["e"]]


def test_a_create_makes_the_list_stale_in_one_round_trip_and_keys_nothing_of_its_id(ctx, monkeypatch):
    wdtests.create(data={"id": "first", "name": "x"})  # loads the script: later calls are one EVALSHA
    list_generation = cache._keys(wdtests.LIST_CACHE_KIND, None)[1]
    before = int(redis_store.client.get(list_generation))
    sent = []
    connection_class = redis_store.client.connection_pool.connection_class
    send = connection_class.send_command

    def recorded(self, *args, **kwargs):  # every command, whichever path sends it
        sent.append(args[0])
        return send(self, *args, **kwargs)

    monkeypatch.setattr(connection_class, "send_command", recorded)
    wdtests.create(data={"id": "new", "name": "x"})
    assert sent == ["EVALSHA"]
    assert int(redis_store.client.get(list_generation)) == before + 1
    # A new id had no entry to drop and no reader to fence off: no generation of its own.
    assert redis_store.client.exists(*cache._keys(wdtests.CACHE_KIND, "new")) == 0
