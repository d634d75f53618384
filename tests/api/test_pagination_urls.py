"""Page links: each query parameter encoded once per request, the same URL as encoding the
updated query whole (the changed parameters last, None removing one)."""

from urllib.parse import urlencode

from flask import request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.contract.pagination import PageURLs

names = st.sampled_from(["page", "per_page", "after", "sort", "name", "a b", "é&="])
values = st.text(max_size=8)
changed = st.dictionaries(st.sampled_from(["page", "after", "x"]), st.none() | st.integers(1, 99) | values)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(names, values), max_size=6), changed)
def test_a_link_is_the_query_updated_and_encoded_whole(sqlite_app, query, changes):
    with sqlite_app.test_request_context("/api/v1/wdtests", query_string=query):
        args = request.args.to_dict()
        for name, value in changes.items():
            args.pop(name, None)
            if value is not None:
                args[name] = value
        assert PageURLs()(**changes) == f"{request.base_url}?{urlencode(args)}"
