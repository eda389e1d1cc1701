"""In Chromium: the payload editor (CodeMirror, built from npm into static/editor/) marks a JSON
mistake where it is, formats, checks the size before upload and invokes on Ctrl+Enter, under
the page's Content-Security-Policy; without JavaScript the plain textarea still posts."""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from invocations.models import Environment, Function, Invocation
from tests.conftest import ensure_roles

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hello(transactional_db, alice, redis_server):
    """The live server needs committed rows; the invoke's task waits in Redis (no worker)."""
    ensure_roles()
    return Function.objects.create(environment=Environment.objects.default(), name="hello")


def open_function(page, live_server, csp_errors=None):
    if csp_errors is not None:
        page.on(
            "console",
            lambda message: (
                csp_errors.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
    page.goto(f"{live_server.url}/accounts/login/?next=/functions/hello/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/functions/hello/")


def test_package_json_pins_the_locked_versions_and_the_committed_bundle_holds_codemirror():
    # What this can check without Node.js: it does not rebuild the bundle (`make assets` does),
    # so it cannot tell a bundle built from other versions.
    lock = json.loads((ROOT / "package-lock.json").read_text())
    bundle = ROOT / "static" / "editor" / "editor.js"
    wanted = json.loads((ROOT / "package.json").read_text())["devDependencies"]

    locked = {name: lock["packages"][f"node_modules/{name}"]["version"] for name in wanted}

    assert locked == wanted  # package.json pins exactly what the lock file holds
    assert bundle.stat().st_size > 100_000
    assert "EditorView" in bundle.read_text() or "cm-editor" in bundle.read_text()


@pytest.mark.browser
def test_a_mistake_is_marked_formatted_and_ctrl_enter_invokes(live_server, page, hello):
    csp_errors: list[str] = []
    open_function(page, live_server, csp_errors)
    editor = page.get_by_label("Payload (JSON)")
    status = page.locator("[data-editor-status]")

    expect(page.locator(".cm-gutters")).to_be_visible()
    assert page.locator("textarea#payload").is_hidden()
    # CodeMirror's own styles applied (a constructed style sheet in the editor's shadow root,
    # which the CSP allows; a <style> element would be refused and logged).
    assert page.locator(".cm-gutters").evaluate("e => getComputedStyle(e).display") == "flex"

    editor.fill('{\n  "a": 1,\n  "b": }')
    expect(status).to_have_text(re.compile(r"^Not valid JSON at line 3, column 8"))
    expect(page.locator(".cm-lintRange-error")).to_have_count(1)
    expect(page.locator(".cm-gutter-lint .cm-lint-marker-error")).to_have_count(1)

    editor.fill('{"order": 42, "items": [1, 2]}')
    expect(status).to_have_text("")
    page.get_by_role("button", name="Format").click()
    expect(page.locator(".cm-line")).to_have_count(7)
    assert json.loads(page.locator("textarea#payload").input_value()) == {
        "order": 42,
        "items": [1, 2],
    }

    editor.press("Control+Enter")
    page.wait_for_url(re.compile(r"/invocations/\d+/$"))

    invocation = Invocation.objects.get()
    assert json.loads(invocation.payload) == {"order": 42, "items": [1, 2]}
    # As formatted in the editor (a form posts a textarea's line ends as CRLF).
    assert invocation.payload.replace("\r\n", "\n").startswith('{\n  "order": 42,\n')
    assert csp_errors == []


@pytest.mark.browser
def test_the_servers_line_and_column_are_marked_and_size_is_checked_first(live_server, page, hello):
    open_function(page, live_server)
    editor = page.get_by_label("Payload (JSON)")
    # The browser's own check would catch this: post it as the server would get it from the
    # plain textarea, so that the server's finding is what the editor shows.
    page.evaluate(
        "document.querySelector('textarea#payload').form.addEventListener("
        "'submit', e => e.stopImmediatePropagation(), true)"
    )
    editor.fill('{\n  "a": \n}')
    page.get_by_role("button", name="Invoke", exact=True).click()

    expect(page.locator(".errorlist")).to_contain_text("line 3, column 1")
    expect(page.locator(".cm-lintRange-error")).to_have_count(1)

    page.locator("#id_invocation_type").select_option("Event")
    page.evaluate(
        "() => { const big = JSON.stringify({data: 'x'.repeat(1100000)});"
        " const view = document.querySelector('[data-json-editor]').editorView;"
        " view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: big}}); }"
    )
    page.get_by_role("button", name="Invoke", exact=True).click()

    expect(page.locator("[data-editor-status]")).to_contain_text(
        "Event invocations take at most 1.00 MB. Nothing was sent."
    )
    assert Invocation.objects.count() == 0


@pytest.mark.browser
def test_without_javascript_the_textarea_still_invokes(browser, live_server, hello):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    open_function(page, live_server)

    page.locator("textarea#payload").fill('{"plain": true}')
    page.get_by_role("button", name="Invoke", exact=True).click()
    page.wait_for_url(re.compile(r"/invocations/\d+/$"))

    context.close()
    assert json.loads(Invocation.objects.get().payload) == {"plain": True}
