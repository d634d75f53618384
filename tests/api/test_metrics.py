"""/metrics in the Prometheus text format: requests by endpoint, cache lookups, the outbox."""

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.redis_support import require_test_redis


def samples(http) -> dict:
    response = http.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def test_requests_cache_and_outbox_are_exposed_without_a_key(make_app):
    require_test_redis()
    http = make_app(API_KEYS="k" * 16, RATELIMIT_ENABLED=True).test_client()
    created = http.post("/api/v1/wdtests", json={"name": "ada"}, headers={"X-API-Key": "k" * 16})
    assert created.status_code == 201
    url = f"/api/v1/wdtests/{created.get_json()['id']}"
    before = samples(http)
    for _ in range(3):
        assert http.get(url).status_code == 200  # a miss, then hits
    after = samples(http)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    ok = {"endpoint": "wdtest_item", "method": "GET", "status": "200"}
    assert delta("wdapi_requests_total", **ok) == 3
    assert delta("wdapi_request_duration_seconds_count", **ok) == 3
    assert delta("wdapi_cache_lookups_total", result="hit") == 2
    assert delta("wdapi_cache_lookups_total", result="miss") == 1
    assert after[("wdapi_outbox_pending", ())] == 1  # the create's event; no relay runs here
    assert after[("wdapi_outbox_oldest_pending_age_seconds", ())] >= 0
    assert after[("wdapi_db_breaker_state", ())] == 0  # closed
    assert "RateLimit-Limit" not in http.get("/metrics").headers  # not limited
