"""`manage.py alerts list | add | test`: the alert rules from a shell. Every change is audited
(as the system), like one made on the pages."""

import re

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from alerts import changes, delivery
from alerts.forms import check_channel_url
from alerts.models import Channel, Notification, Rule
from invocations.access.actor import SYSTEM
from invocations.models import Environment

SIMPLE = {"new_group": "on_new_group", "regression": "on_regression"}
# name:N, with the rule field N goes in
NUMBERED = {
    "backlog_age": "backlog_minutes",
    "poll_failing": "poll_failing_minutes",
    "dlq_depth": "dlq_depth",
}


def parse_conditions(text: str) -> dict:
    """new_group,regression,spike:N/M,backlog_age:MIN,poll_failing:MIN,dlq_depth:N → fields."""
    fields: dict = {}
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        name, _, value = part.partition(":")
        if name in SIMPLE and not value:
            fields[SIMPLE[name]] = True
        elif name == "spike" and (match := re.fullmatch(r"(\d+)/(\d+)", value)):
            fields["spike_count"], fields["spike_minutes"] = int(match[1]), int(match[2])
        elif name in NUMBERED and value.isdigit():
            fields[NUMBERED[name]] = int(value)
        else:
            raise CommandError(
                f"Cannot read {part!r}: use new_group, regression, spike:N/M, backlog_age:MINUTES, "
                "poll_failing:MINUTES or dlq_depth:N, separated by commas."
            )
    if not fields:
        raise CommandError("--on needs at least one condition.")
    return fields


class Command(BaseCommand):
    help = "List, add and try alert rules."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        commands.add_parser("list", help="Every rule, its conditions and channels.")
        add = commands.add_parser("add", help="Add a rule (and its channel).")
        add.add_argument("--name", required=True)
        add.add_argument(
            "--on",
            required=True,
            help="new_group,regression,spike:N/M,backlog_age:MINUTES,poll_failing:MINUTES,"
            "dlq_depth:N",
        )
        add.add_argument(
            "--channel",
            action="append",
            required=True,
            help="An apprise URL or an http(s) address (signed webhook); or an existing "
            "channel's name. May be repeated.",
        )
        add.add_argument("--function", action="append", default=[], help="fnmatch pattern")
        add.add_argument("--environment", help="Environment name (default: the default one).")
        test = commands.add_parser("test", help="Send a test notification to a rule's channels.")
        test.add_argument("name")

    def handle(self, *args, command, **options):
        getattr(self, f"_{command}")(**options)

    def _list(self, **options):
        rules = Rule.objects.select_related("environment").prefetch_related("channels")
        if not rules:
            self.stdout.write("No alert rules.")
        for rule in rules:
            channels = ", ".join(f"{c.name} ({c.masked_url})" for c in rule.channels.all())
            state = "enabled" if rule.enabled else "disabled"
            only = f" functions={rule.function_patterns}" if rule.function_patterns else ""
            self.stdout.write(
                f"{rule.name} [{rule.environment.name}, {state}] on {rule.describe()}{only} "
                f"→ {channels or 'no channel'}"
            )

    def _add(self, name, on, channel, function, environment=None, **options):
        fields = parse_conditions(on)
        if environment:
            env = Environment.objects.filter(name=environment).first()
            if env is None:
                raise CommandError(f"No environment named {environment!r}.")
        else:
            env = Environment.objects.default()
        if Rule.objects.filter(name=name).exists():
            raise CommandError(f"A rule named {name!r} exists already.")
        with transaction.atomic():
            targets = [self._channel(value, name, index) for index, value in enumerate(channel)]
            rule = Rule(name=name, environment=env, function_patterns="\n".join(function), **fields)
            try:
                rule.full_clean(exclude=["channels"])
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
            changes.prepare_new_rule(rule)
            rule.save()
            rule.channels.set(targets)
            changes.rule_saved(rule, True, ["channels", *fields], actor=SYSTEM)
        self.stdout.write(f"Added rule {rule.name} on {rule.describe()}.")

    def _channel(self, value: str, rule_name: str, index: int) -> Channel:
        existing = Channel.objects.filter(name=value).first()
        if existing is not None:
            return existing
        try:
            url = check_channel_url(value)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        found = Channel.objects.filter(url=url).first()
        if found is not None:
            return found
        channel = Channel(name=f"{rule_name}-{index + 1}" if index else rule_name, url=url)
        channel.full_clean()
        channel.save()
        changes.channel_saved(channel, True, ["url"], actor=SYSTEM)
        self.stdout.write(f"Added channel {channel.name} ({channel.masked_url}).")
        if channel.is_webhook:
            self.stdout.write(f"Its signing secret: {channel.secret}")
        return channel

    def _test(self, name, **options):
        rule = Rule.objects.filter(name=name).first()
        if rule is None:
            raise CommandError(f"No rule named {name!r}.")
        failed = 0
        for channel in rule.channels.all():
            notification = changes.send_test(channel, actor=SYSTEM, enqueue=False)
            # Here and now rather than by the worker: the point is to see the answer.
            delivery.deliver(notification.pk)
            # One attempt: the answer is printed now, so no retry should surprise anyone later.
            Notification.objects.filter(
                pk=notification.pk, status=Notification.Status.RETRYING
            ).update(status=Notification.Status.FAILED, finished_at=timezone.now())
            notification.refresh_from_db()
            if notification.status == notification.Status.DELIVERED:
                self.stdout.write(f"{channel.name}: delivered")
            else:
                failed += 1
                self.stdout.write(f"{channel.name}: {notification.error or notification.status}")
        if failed:
            raise CommandError(f"{failed} channel(s) did not take the test notification.")
