"""Who may see and change alerts, and that every change is audited with channel URLs masked."""

import pytest
from django.contrib.auth.models import Group

from alerts.models import Channel, Notification, Rule
from invocations.models import AuditEvent
from tests.alerts_support import channel, rule

pytestmark = pytest.mark.django_db

SECRET_URL = "slack://T1234ABCD/B5678EFGH/xoxbSuperSecretToken123"
WEBHOOK = "https://hooks.example.com/services/secret-path-abc123"


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user(username="otto", password="pw")
    user.groups.set(Group.objects.filter(name__in=["Viewer", "Operator"]))
    return user


@pytest.fixture
def role_admin(django_user_model):
    """An Admin by role only: not a superuser, so the role's permissions are what count."""
    user = django_user_model.objects.create_user(username="adele", password="pw")
    user.groups.set(Group.objects.filter(name__in=["Viewer", "Operator", "Triager", "Admin"]))
    return user


@pytest.fixture
def slack():
    made = channel(SECRET_URL, name="slack-oncall")
    rule(made, name="new-failures")
    return made


@pytest.mark.parametrize("who", ["bob", "operator", "alice"])
def test_viewers_operators_and_triagers_see_rules_with_masked_urls_and_cannot_change_them(
    request, client, slack, who
):
    client.force_login(request.getfixturevalue(who))
    rule_pk = Rule.objects.get().pk

    page = client.get("/alerts/").content.decode()
    refused = [
        client.get("/alerts/rules/add/").status_code,
        client.post("/alerts/rules/add/", {"name": "x", "on_new_group": "on"}).status_code,
        client.get(f"/alerts/rules/{rule_pk}/").status_code,
        client.post(f"/alerts/rules/{rule_pk}/toggle/").status_code,
        client.get("/alerts/channels/add/").status_code,
        client.get(f"/alerts/channels/{slack.pk}/").status_code,
        client.post(f"/alerts/channels/{slack.pk}/test/").status_code,
    ]

    assert "new-failures" in page and "slack-oncall" in page
    assert "xoxbSuperSecretToken123" not in page
    assert "T1234ABCD" not in page
    assert "slack://•••" in page
    assert refused == [403] * 7
    assert Rule.objects.get().enabled
    assert not Notification.objects.exists()


def test_an_admin_sees_the_channel_url_and_can_add_edit_and_disable_rules(
    client, role_admin, slack
):
    client.force_login(role_admin)

    page = client.get("/alerts/").content.decode()
    added = client.post(
        "/alerts/rules/add/",
        {
            "name": "spikes",
            "enabled": "on",
            "channels": [slack.pk],
            "spike_count": "100",
            "spike_minutes": "5",
            "skip_acknowledged": "on",
        },
    )
    spikes = Rule.objects.get(name="spikes")
    edited = client.post(
        f"/alerts/rules/{spikes.pk}/",
        {"name": "spikes", "enabled": "on", "channels": [slack.pk], "on_regression": "on"},
    )
    toggled = client.post(f"/alerts/rules/{spikes.pk}/toggle/")
    spikes.refresh_from_db()

    assert SECRET_URL in page
    assert (added.status_code, edited.status_code, toggled.status_code) == (302, 302, 302)
    assert spikes.describe() == "regression"
    assert not spikes.enabled
    actions = list(
        AuditEvent.objects.filter(target_type="rule", target_id=str(spikes.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["alert.rule.create", "alert.rule.change", "alert.rule.change"]


def test_an_admin_adds_a_channel_and_the_audit_trail_never_holds_its_url(client, role_admin):
    client.force_login(role_admin)

    response = client.post(
        "/alerts/channels/add/", {"name": "hook", "url": WEBHOOK, "digest_after": "10"}
    )
    made = Channel.objects.get(name="hook")
    client.post(f"/alerts/channels/{made.pk}/test/")

    assert response.status_code == 302
    assert made.is_webhook
    events = AuditEvent.objects.filter(target_type="channel")
    assert set(events.values_list("action", flat=True)) == {
        "alert.channel.create",
        "alert.channel.test",
    }
    for event in events:
        text = f"{event.summary} {event.details}"
        assert "secret-path-abc123" not in text
        assert "https://hooks.example.com/•••" in text or event.action == "alert.channel.test"
    assert Notification.objects.get().event == "test"


def test_a_channel_url_that_no_service_knows_is_a_form_error(client, role_admin):
    client.force_login(role_admin)

    response = client.post(
        "/alerts/channels/add/", {"name": "bad", "url": "nonsense://x", "digest_after": "10"}
    )

    assert response.status_code == 400
    assert "Not a channel URL" in response.content.decode()
    assert not Channel.objects.exists()


def test_a_rule_without_any_condition_is_a_form_error(client, role_admin, slack):
    client.force_login(role_admin)

    response = client.post("/alerts/rules/add/", {"name": "nothing", "channels": [slack.pk]})

    assert response.status_code == 400
    assert "at least one condition" in response.content.decode()


def test_the_deliveries_page_lists_every_notification_for_viewers(client, bob, slack):
    Notification.objects.create(
        rule=Rule.objects.get(),
        channel=slack,
        event="new_group",
        title="New failure: ValueError in orders",
        status=Notification.Status.FAILED,
        attempts=6,
        response_code=503,
        error="answered HTTP 503",
    )
    client.force_login(bob)

    page = client.get("/alerts/deliveries/?status=failed").content.decode()

    assert "New failure: ValueError in orders" in page
    assert "new-failures" in page and "slack-oncall" in page
    assert "503" in page and "failed (given up)" in page
    assert "xoxbSuperSecretToken123" not in page


def test_the_admin_site_audits_rule_changes(client, admin_user, slack):
    client.force_login(admin_user)
    from invocations.models import Environment

    response = client.post(
        "/admin/alerts/rule/add/",
        {
            "environment": Environment.objects.default().pk,
            "name": "from-admin",
            "enabled": "on",
            "channels": [slack.pk],
            "on_new_group": "on",
            "function_patterns": "",
            "error_types": "",
            "kinds": "",
        },
    )

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="alert.rule.create", target_repr="from-admin")
    assert "xoxbSuperSecretToken123" not in str(event.details)
    assert event.details["channels"] == ["slack-oncall slack://•••"]


def test_the_admin_site_lists_channels_masked_and_notifications_read_only(
    client, admin_user, slack
):
    client.force_login(admin_user)

    channels = client.get("/admin/alerts/channel/").content.decode()
    notifications = client.get("/admin/alerts/notification/")
    add_notification = client.get("/admin/alerts/notification/add/")

    assert "slack://•••" in channels
    assert "xoxbSuperSecretToken123" not in channels
    assert notifications.status_code == 200
    assert add_notification.status_code == 403


def test_the_rules_list_says_each_condition_in_words(client, alice, slack):
    rule(slack, name="spiky", on_new_group=False, spike_count=5, spike_minutes=10, dlq_depth=3)
    client.force_login(alice)

    page = client.get("/alerts/").text

    assert "a new group appears" in page
    assert "a group gets 5+ occurrences within 10 min; more than 3 dead letters wait" in page
    assert "spike:5/10" not in page


def test_the_rule_form_says_what_a_name_may_hold_before_and_after_a_space(
    client, role_admin, slack
):
    client.force_login(role_admin)

    form = client.get("/alerts/rules/add/").text
    response = client.post(
        "/alerts/rules/add/",
        {"name": "orders failing", "channels": [slack.pk], "on_new_group": "on"},
    )

    assert "Letters, digits, - and _ (no spaces); used by manage.py alerts test NAME." in form
    assert response.status_code == 400
    page = response.content.decode()
    assert "Use only letters, digits, - and _ (no spaces)" in page
    assert "slug" not in page.lower()
    assert not Rule.objects.filter(name="orders failing").exists()


def test_the_deliveries_page_says_why_each_message_was_sent_in_words(client, bob, slack):
    for event in ["new_group", "dlq_depth", "digest"]:
        Notification.objects.create(
            rule=Rule.objects.get(), channel=slack, event=event, title=f"About {event}"
        )
    client.force_login(bob)

    page = client.get("/alerts/deliveries/").content.decode()

    assert "(a new group appeared)" in page
    assert "(dead letters piled up)" in page
    assert "(several alerts in one digest)" in page
    for code in ["new_group", "dlq_depth"]:
        assert f'<span class="muted">{code}</span>' not in page
