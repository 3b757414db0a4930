"""The web UI end to end, in Debian's headless Chromium driven by Playwright, against the
real stack (Kafka broker, executor and worker processes, indexer, Elasticsearch, the API
serving the built UI at /ui): write a flow in the editor, see the inline error for a bad
task type, fix it, save, execute it with an input, watch SUCCESS on the Gantt, find it in
the filtered list, read its logs, drag the time-travel slider back to an earlier state.

Every page is saved as a screenshot under test-artifacts/ui/ (printed)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.chromium import headless_chromium
from tests.integration.stack import REPO, Stack

pytestmark = pytest.mark.integration

ARTIFACTS = REPO / "test-artifacts" / "ui"
TIMEOUT_MS = 30_000

BAD_FLOW = """\
id: greet_ui
namespace: ui.e2e
inputs:
  - id: name
    type: STRING
  - id: data
    type: FILE
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Lgo
    message: "Hello {{ inputs.name }}"
"""
GOOD_FLOW = BAD_FLOW.replace("log.Lgo", "log.Log") + (
    "  - id: nap\n"
    "    type: io.kestra.plugin.core.flow.Sleep\n"
    "    duration: PT1S\n"
    "  - id: ret\n"
    "    type: io.kestra.plugin.core.debug.Return\n"
    '    format: "{{ inputs.name }}"\n'
)


@pytest.fixture(scope="module")
def built_ui() -> None:
    subprocess.run([sys.executable, str(REPO / "ui" / "build.py")], cwd=REPO, check=True)


@pytest.fixture(scope="module")
def browser(built_ui: None) -> Iterator[object]:
    with headless_chromium() as context:
        yield context


def base_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings.api_port}"


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    print(f"screenshot: {path}")


def replace_editor_text(page: object, text: str) -> None:
    editor = page.locator(".cm-content")  # type: ignore[attr-defined]
    editor.click()
    page.keyboard.press("Control+A")  # type: ignore[attr-defined]
    page.keyboard.press("Delete")  # type: ignore[attr-defined]
    # insertText, as a paste: typed keys would get the editor's auto-indentation.
    page.keyboard.insert_text(text)  # type: ignore[attr-defined]


def test_write_run_watch_search_and_rewind_a_flow(stack: Stack, browser: object) -> None:
    from playwright.sync_api import BrowserContext, expect

    assert isinstance(browser, BrowserContext)
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    url = base_url(stack)
    console_errors: list[str] = []
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))

    # / redirects to the UI's dashboard.
    page.goto(url + "/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert page.url.startswith(url + "/ui/")

    # An empty instance offers the gallery: one click deploys an example flow.
    expect(page.get_by_test_id("gallery")).to_be_visible()
    shot(page, "01-dashboard-gallery")
    page.locator('[data-example="hello_world"]').click()
    page.wait_for_url("**/ui/flows/examples/hello_world")
    expect(page.get_by_test_id("yaml-editor")).to_contain_text("Hello {{ inputs.name }}!")

    # A bad task type: the inline error, with its line, while typing.
    page.goto(url + "/ui/flows/new")
    replace_editor_text(page, BAD_FLOW)
    problems = page.get_by_test_id("problems")
    expect(problems).to_contain_text("line 10", timeout=TIMEOUT_MS)
    expect(problems).to_contain_text("Lgo")
    expect(page.locator(".cm-lint-marker-error").first).to_be_visible()
    expect(page.get_by_test_id("save")).to_be_disabled()
    shot(page, "02-editor-inline-error")

    # Fixed: valid, saved as a new revision; the URL is the flow's.
    replace_editor_text(page, GOOD_FLOW)
    expect(page.get_by_test_id("valid")).to_be_visible()
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("saved")).to_contain_text(
        re.compile(r"revision \d+ \((created|updated)\)")
    )
    page.wait_for_url("**/ui/flows/ui.e2e/greet_ui")
    page.get_by_test_id("tab-topology").click()
    expect(page.get_by_test_id("topology")).to_contain_text("nap")
    shot(page, "03-flow-topology")

    # Execute with an input from the generated form: empty is refused by the form first.
    page.get_by_test_id("execute").click()
    dialog = page.get_by_test_id("execute-dialog")
    dialog.get_by_test_id("execute-submit").click()
    expect(dialog).to_contain_text("name is required")
    dialog.get_by_label("name").fill("Ada")
    # A FILE input goes up as a multipart form and is stored under the execution.
    dialog.locator("input[name=data]").set_input_files(
        files=[{"name": "hello.txt", "mimeType": "text/plain", "buffer": b"hi there"}]
    )
    shot(page, "04-execute-dialog")
    dialog.get_by_test_id("execute-submit").click()
    page.wait_for_url("**/ui/executions/*")
    execution_id = page.url.rsplit("/", 1)[-1]
    gantt = page.get_by_test_id("gantt")
    expect(gantt).to_have_attribute("data-state", "RUNNING", timeout=TIMEOUT_MS)
    shot(page, "05-gantt-running")
    expect(page.locator("main")).to_contain_text("hello.txt")
    expect(page.locator("main")).to_contain_text("kestra://")
    expect(gantt).to_have_attribute("data-state", "SUCCESS", timeout=TIMEOUT_MS)
    expect(gantt.locator('[data-task="ret"]')).to_contain_text("SUCCESS")
    shot(page, "06-gantt-success")

    # Its logs: the line the input made.
    page.get_by_test_id("tab-logs").click()
    expect(page.get_by_test_id("logs")).to_contain_text("Hello Ada")
    page.get_by_test_id("log-search").fill("no such text")
    expect(page.get_by_test_id("logs")).not_to_contain_text("Hello Ada")
    page.get_by_test_id("log-search").fill("")
    shot(page, "07-logs")

    # Time travel: drag the slider to its start; the execution as it stood then.
    page.get_by_test_id("tab-gantt").click()
    slider = page.get_by_test_id("time-travel")
    box = slider.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 1, box["y"] + box["height"] / 2, steps=10)
    page.mouse.up()
    expect(page.get_by_test_id("asof-seq")).to_have_text("1")
    expect(gantt).to_have_attribute("data-state", "CREATED")
    expect(gantt).not_to_contain_text("ret")
    shot(page, "08-time-travel-first-event")
    page.get_by_test_id("tab-history").click()
    expect(page.get_by_test_id("history")).to_contain_text("ExecutionCreated")
    shot(page, "09-history")

    # Saving a change makes a new revision; the revisions tab shows its diff.
    page.goto(url + "/ui/flows/ui.e2e/greet_ui")
    expect(page.get_by_test_id("yaml-editor")).to_contain_text("Hello {{ inputs.name }}")
    replace_editor_text(page, GOOD_FLOW.replace("Hello {{", "Good day {{"))
    expect(page.get_by_test_id("valid")).to_be_visible()
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("saved")).to_contain_text("(updated)")
    page.get_by_test_id("tab-revisions").click()
    diff = page.get_by_test_id("revision-diff")
    expect(diff.locator(".diff-add")).to_contain_text("Good day")
    expect(diff.locator(".diff-del")).to_contain_text("Hello")
    shot(page, "09b-revision-diff")

    # The filtered list finds it, and the filters are in the URL (a shareable view).
    page.goto(url + "/ui/executions")
    filters = page.get_by_test_id("execution-filters")
    filters.locator("input[name=namespace]").fill("ui.e2e")
    filters.locator("input[name=flowId]").fill("greet_ui")
    filters.locator("select[name=state]").select_option(["SUCCESS"])
    filters.get_by_test_id("apply-filters").click()
    page.wait_for_url("**namespace=ui.e2e**")
    assert "state=SUCCESS" in page.url and "flowId=greet_ui" in page.url
    expect(page.locator(f'[data-execution="{execution_id}"]')).to_be_visible()
    shot(page, "10-executions-filtered")
    shared = page.url
    page.goto(url + "/ui/executions?namespace=nowhere")
    expect(page.get_by_test_id("executions")).to_contain_text("No execution matches")
    page.goto(shared)
    expect(page.locator(f'[data-execution="{execution_id}"]')).to_be_visible()

    # Bad input shows a readable message, never a blank page; unknown routes: not found.
    page.goto(url + "/ui/executions/no-such-execution")
    expect(page.get_by_test_id("error")).to_contain_text("no-such-execution")
    shot(page, "11-execution-not-found")
    page.goto(url + "/ui/no/such/page")
    expect(page.get_by_test_id("not-found")).to_contain_text("/no/such/page")
    shot(page, "12-not-found")

    # At phone width the execution page stays usable (a screenshot to look at).
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/ui/executions/{execution_id}")
    expect(page.get_by_test_id("gantt")).to_have_attribute("data-state", "SUCCESS")
    shot(page, "12b-execution-phone-width")
    page.set_viewport_size({"width": 1280, "height": 800})

    # The other pages render with data (and the dark theme), each a screenshot.
    page.goto(url + "/ui/flows")
    expect(page.get_by_role("link", name="greet_ui")).to_be_visible()
    page.get_by_test_id("theme").click()
    shot(page, "13-flows-dark")
    # The audit log is a projection: searched again until the flow's creation shows.
    page.goto(url + "/ui/audit")
    audit = page.locator("main")
    for _attempt in range(30):
        if "FlowCreated" in audit.inner_text():
            break
        page.get_by_role("button", name="Search").click()
        page.wait_for_timeout(500)
    expect(page.get_by_test_id("audit")).to_contain_text("FlowCreated")
    shot(page, "14-audit")
    for name, path, text in (
        ("15-triggers", "/ui/triggers", "Triggers"),
        ("16-namespace", "/ui/namespaces/ui.e2e", "KV store"),
    ):
        page.goto(url + path)
        expect(page.locator("main")).to_contain_text(text)
        shot(page, name)
    page.goto(url + "/ui/")
    expect(page.get_by_test_id("failure-rate")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Executions, 30 days")
    shot(page, "18-dashboard-with-data")
    assert not console_errors, console_errors
    print(f"screenshots of every page: {ARTIFACTS}")


PAINT_FLOW = """\
id: paint
namespace: ui.paint
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
PAINT_EXECUTIONS = 10_000


def fill_executions_index(stack: Stack, model: dict[str, Any], count: int) -> None:
    """`count` executions in the executions view: the real one the stack ran, and copies of
    its document under new ids and start times (the list's paint depends on what the index
    holds, not on how it got there; running 10,000 executions would take the shared
    machine many minutes)."""
    import httpx

    from projections import mappings
    from projections.store.client import SearchStore

    index = SearchStore(stack.settings.elasticsearch_url, stack.settings.full_index_prefix)
    name = index.full_name(mappings.EXECUTIONS)
    start = dt.datetime.fromisoformat(model["state"]["startDate"])
    deadline = time.monotonic() + 300
    with httpx.Client(base_url=stack.settings.elasticsearch_url, timeout=120) as es:
        for first in range(1, count, 2000):
            lines = []
            for n in range(first, min(first + 2000, count)):
                doc = copy.deepcopy(model)
                doc["id"] = f"{model['id'][:12]}c{n:07d}"
                doc["state"]["startDate"] = (start - dt.timedelta(seconds=n)).isoformat()
                lines.append(json.dumps({"index": {"_index": name, "_id": doc["id"]}}))
                lines.append(json.dumps(doc))
            answer = es.post(
                "/_bulk",
                content="\n".join(lines) + "\n",
                headers={"content-type": "application/x-ndjson"},
            )
            assert answer.status_code == 200 and not answer.json()["errors"], answer.text[:2000]
            assert time.monotonic() < deadline, "filling the executions index took too long"
        es.post(f"/{name}/_refresh").raise_for_status()


def test_first_paint_of_the_executions_list_with_10000_executions(
    stack: Stack, browser: object
) -> None:
    from playwright.sync_api import BrowserContext, expect

    from projections import mappings
    from projections.store.client import SearchStore

    assert isinstance(browser, BrowserContext)
    stack.deploy(PAINT_FLOW)
    ran = stack.until_ended(stack.run("ui.paint", "paint")["id"])
    assert ran["state"]["current"] == "SUCCESS"
    store = SearchStore(stack.settings.elasticsearch_url, stack.settings.full_index_prefix)
    model = store.get(mappings.EXECUTIONS, ran["id"])
    assert model is not None
    fill_executions_index(stack, model, PAINT_EXECUTIONS)
    assert stack.search(namespace="ui.paint", size=1)["total"] == PAINT_EXECUTIONS

    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    timings = []
    for attempt in range(3):
        started = time.monotonic()
        page.goto(f"{base_url(stack)}/ui/executions?namespace=ui.paint&x={attempt}")
        page.locator("[data-execution]").first.wait_for()
        rows_ms = (time.monotonic() - started) * 1000
        fcp = page.evaluate(
            "() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
        )
        timings.append((rows_ms, fcp))
    expect(page.get_by_test_id("execution-total")).to_contain_text(f"{PAINT_EXECUTIONS} executions")
    shot(page, "17-executions-10000")
    for n, (rows_ms, fcp) in enumerate(timings, 1):
        fcp_text = f"{fcp:.0f} ms" if fcp is not None else "n/a"
        print(
            f"executions list with {PAINT_EXECUTIONS} executions in the index, load {n}: "
            f"first contentful paint {fcp_text}, first 50 rows painted {rows_ms:.0f} ms"
        )
