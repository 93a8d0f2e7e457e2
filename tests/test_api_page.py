"""The API page (API.md v1.1 "API page"), tried in a real headless browser: Debian's
chromium, driven by Playwright. It loads from the service alone, lists every operation of
the OpenAPI document, and a try-it-out call answers 200."""

import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Route, sync_playwright

from service.openapi import load_openapi
from tests.support.running_service import RunningService

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[str]:
    running = RunningService(tmp_path_factory.mktemp("api-page"), DATABASE_URL=database_url)
    try:
        yield running.url
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: `make test` installs it"
    with sync_playwright() as playwright:
        # --no-sandbox: the suite may run as root, where chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def test_the_page_lists_every_operation_and_tries_one_out(service: str, browser: Browser) -> None:
    page = browser.new_page()
    elsewhere: list[str] = []

    def only_the_service(route: Route) -> None:
        if urlsplit(route.request.url).netloc == urlsplit(service).netloc:
            route.continue_()
        else:  # the page must work with no internet: note and refuse anything else
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_service)
    student = httpx.post(
        f"{service}/students",
        json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada.docs@example.edu"},
    ).json()

    page.goto(f"{service}/")  # redirects to the page
    assert urlsplit(page.url).path == "/docs"
    page.wait_for_selector(".opblock", timeout=30_000)

    document = load_openapi()
    operations = [
        (operation["tags"][0], operation["operationId"])
        for methods in document["paths"].values()
        for method, operation in methods.items()
        if method in METHODS
    ]
    assert page.locator(".opblock").count() == len(operations)
    for tag, operation_id in operations:
        assert page.locator(f"#operations-{tag}-{operation_id}").count() == 1, operation_id

    block = page.locator("#operations-students-getStudent")
    block.locator(".opblock-summary").click()
    block.locator("input[placeholder='student_id']").fill(str(student["id"]))
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=30_000)
    assert status.inner_text().strip() == "200"
    assert "ada.docs@example.edu" in block.locator(".live-responses-table").inner_text()
    assert elsewhere == []
    page.close()
