"""Swagger UI at /docs in headless Chromium (Debian's ``chromium``, driven by Playwright): every
namespace listed, Try it out works, and no request ever leaves the host.

Screenshots are saved under ``build/e2e/swagger-ui/`` (git-ignored).
"""

from __future__ import annotations

import json
import shutil
import uuid
from urllib.parse import urlsplit

import pytest

from tests.helpers.live_server import API_KEY, OUTPUT

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NAMESPACES = {"wdtests", "exceptions", "demo", "redis", "rabbitmq"}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
SCREENSHOTS = OUTPUT / "swagger-ui"
TIMEOUT_MS = 30_000  # generous: the machine is shared
# What Swagger UI shows beside the title once a document is rendered.
STAMPS = {"OpenAPI 3.1": "OAS 3.1", "Swagger 2.0": "OAS 2.0"}
LIVE_STATUS = ".live-responses-table tr.response .response-col_status"


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    """A fresh page whose requests may go to this host only; any other is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    escaped: list[str] = []

    def guard(route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            escaped.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.escaped = escaped
    yield page
    context.close()
    assert escaped == [], f"requests left the host: {escaped}"


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(params=["OpenAPI 3.1", "Swagger 2.0"])
def document(request) -> str:
    """The document picked in Swagger UI's selector: every test runs on both."""
    return request.param


def open_docs(page, server, document: str) -> None:
    """/docs on ``document``: Swagger UI 5 (4 cannot render OpenAPI 3.1), the document picked."""
    page.goto(f"{server.base}/docs")
    page.wait_for_selector(".opblock-tag-section, .version-pragma")
    version = page.evaluate("() => (versions.swaggerUI ?? versions.swaggerUi).version")  # 5 ?? 4
    assert str(version).startswith("5."), f"/docs serves Swagger UI {version}, not 5"
    select = page.locator(".topbar select")
    if select.evaluate("s => s.options[s.selectedIndex].text") != document:
        with page.expect_response(lambda r: r.url.endswith((".json", ".yaml"))):
            select.select_option(label=document)
    page.wait_for_function(
        "v => document.querySelector('.info .title')?.textContent.includes(v)",
        arg=STAMPS[document],
    )
    page.wait_for_selector(".opblock-tag-section")


def shown_status(block) -> str:
    """The status code Swagger UI shows for the live response (a label may follow it)."""
    return block.locator(LIVE_STATUS).first.inner_text().split()[0]


def try_it_out(page, operation_id: str, body: dict | None = None):
    """Open the operation's tag (docExpansion none), the operation, press Try it out (editing the
    body), Execute; return the operation block and the live response."""
    block = page.locator(f"#operations-{operation_id}")
    if not block.is_visible():
        page.locator(f"#operations-tag-{operation_id.split('-')[0]}").click()
    block.locator(".opblock-summary").first.click()
    block.locator("button.try-out__btn").click()
    if body is not None:
        block.locator("textarea.body-param__text").fill(json.dumps(body))
    with page.expect_response(lambda r: r.request.method != "OPTIONS" and "/api/v1/" in r.url) as caught:
        block.locator("button.execute").click()
    block.locator(LIVE_STATUS).first.wait_for()
    return block, caught.value


def test_every_namespace_is_listed(page, open_server, document):
    open_docs(page, open_server, document)
    tags = set(
        page.locator(
            ".opblock-tag-section h3 .opblock-tag span, .opblock-tag-section h3 a span"
        ).all_inner_texts()
    )
    shot(page, f"namespaces-{document}")
    assert NAMESPACES <= {t.strip() for t in tags}, tags


def test_try_it_out_lists_records_as_json(page, open_server, document):
    open_docs(page, open_server, document)
    block, response = try_it_out(page, "wdtests-list_wdtests")
    shot(page, f"get-wdtests-{document}")
    assert response.status == 200 and response.headers["content-type"] == "application/json"
    assert "total" in response.json()
    assert shown_status(block) == "200"


def test_post_without_a_key_shows_a_documented_401(page, keyed_server, document):
    open_docs(page, keyed_server, document)
    block, response = try_it_out(page, "wdtests-create_wdtest", {"name": "ui-401"})
    shot(page, f"post-without-key-{document}")
    assert response.status == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert shown_status(block) == "401"
    # Swagger UI labels a live status the document does not list "Undocumented".
    assert "Undocumented" not in block.locator(".live-responses-table").inner_text()
    assert block.locator('.responses-table tr.response[data-code="401"]').count() == 1


def test_authorize_then_post_creates(page, keyed_server, document):
    open_docs(page, keyed_server, document)
    page.locator("button.authorize").first.click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input[type=text], input[type=password]").first.fill(API_KEY)
    dialog.locator("button.authorize").click()
    dialog.locator("button.btn-done, button.close-modal").first.click()
    name = f"ui-{uuid.uuid4().hex[:8]}"
    block, response = try_it_out(page, "wdtests-create_wdtest", {"name": name, "age": 20})
    shot(page, f"authorize-and-post-{document}")
    assert response.status == 201 and response.json()["name"] == name
    assert response.request.headers.get("x-api-key") == API_KEY
    assert shown_status(block) == "201"
