"""Hostile text everywhere a function, a queue or a person can put it, checked in a real
browser: nothing runs, no markup is created from it, and the text is shown as text."""

import pytest
from django.db import transaction
from django.utils import timezone

from invocations.failures import grouping
from invocations.models import (
    Environment,
    FailureGroup,
    Function,
    GroupActivity,
    Invocation,
    ReplayBatch,
)
from tests import factories

pytestmark = pytest.mark.browser

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=2">'
LINK = '<a href="javascript:window.__xss=3">click</a>'
HOSTILE = f"{SCRIPT} {IMG} {LINK}"


@pytest.fixture
def hostile(admin_user):
    env = Environment.objects.default()
    env.endpoint_url = "http://127.0.0.1:9"  # the pages' AWS calls fail fast, never leave
    env.save()
    name = "evil-fn"
    Function.objects.create(environment=env, name=name, runtime="python3.11", description=HOSTILE)
    invocation = Invocation.objects.create(
        environment=env,
        function_name=name,
        status="function_error",
        payload=f'{{"x": "{IMG}"}}',
        response_payload=f'{{"errorMessage": "{IMG}", "errorType": "{LINK}"}}',
        log_tail=(
            f"START RequestId: 1 Version: $LATEST\n{SCRIPT}\n[ERROR] {IMG}\nEND RequestId: 1\n"
        ),
        error_code="Boom",
        error_text=HOSTILE,
        finished_at=timezone.now(),
    )
    record = factories.failure_record(
        function=name,
        error_type=LINK,
        message=HOSTILE,
        payload={"note": SCRIPT, "link": "javascript:alert(1)"},
    )
    record.stack_trace = IMG
    record.raw_body = HOSTILE
    record.save()
    with transaction.atomic():  # as the poller does: it locks the group
        grouping.group_records([record])
    group = FailureGroup.objects.get()
    GroupActivity.objects.create(group=group, actor=admin_user, kind="comment", text=HOSTILE)
    batch = ReplayBatch.objects.create(
        environment=env, function_name=name, status="done", record_ids=[record.pk]
    )
    # path: whether the page shows the hostile text (as text)
    return {
        "/": True,
        f"/groups/{group.pk}/": True,
        "/functions/": False,
        f"/functions/{name}/": True,
        "/invocations/": False,
        f"/invocations/{invocation.pk}/": True,
        "/records/": True,
        f"/records/{record.pk}/": True,
        "/queues/": False,
        f"/replay/?records={record.pk}": True,
        f"/replay/{batch.pk}/": False,
    }


def _log_in(page, live_server, client, user):
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_no_hostile_text_runs_or_becomes_markup_on_any_page(
    live_server, page, client, admin_user, hostile
):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _log_in(page, live_server, client, admin_user)

    for path, shows_it in hostile.items():
        response = page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")

        assert response.status == 200, path
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("script:not([src])").count() == 0, path
        assert page.locator('img[src="x"]').count() == 0, path
        assert page.locator('a[href^="javascript:"]').count() == 0, path
        if shows_it:
            assert SCRIPT in page.inner_text("body"), path
    assert dialogs == []
