"""Alert rules, the channels they notify, what has fired (so that each problem notifies once)
and every notification sent."""

import secrets
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from django.db import models
from django.utils import timezone

MASK = "•••"


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def mask_url(url: str) -> str:
    """A channel URL with its secrets hidden: the scheme, and the host of a web address. Tokens,
    passwords and paths (a Slack webhook path is its secret) are never shown."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return MASK
    scheme = parts.scheme or "?"
    if scheme in {"http", "https"} and host:
        return f"{scheme}://{host}/{MASK}"
    return f"{scheme}://{MASK}"


def _patterns(text: str) -> list[str]:
    return [p.strip() for p in text.replace(",", "\n").splitlines() if p.strip()]


class Channel(models.Model):
    """Where notifications go: one apprise URL (slack://, msteams://, mailto://, json://, ...)
    or an http(s):// address, which receives our own signed JSON webhook."""

    name = models.SlugField(max_length=64, unique=True)
    url = models.CharField(
        max_length=1000,
        help_text="An apprise URL (slack://…, msteams://…, discord://…, mailto://…, json://…), "
        "or an http(s):// address for the signed webhook.",
    )
    # Signs the webhook body; receivers keep a copy. Unused by apprise channels.
    secret = models.CharField(max_length=100, default=_new_secret)
    digest_after = models.PositiveSmallIntegerField(
        default=10,
        help_text="When more than this many groups fire within a minute, send one digest.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_webhook(self) -> bool:
        return self.url.lower().startswith(("http://", "https://"))

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    @property
    def kind(self) -> str:
        return "signed webhook" if self.is_webhook else urlsplit(self.url).scheme


class Condition(models.TextChoices):
    NEW_GROUP = "new_group", "new group"
    REGRESSION = "regression"
    SPIKE = "spike"
    BACKLOG_AGE = "backlog_age", "old unreplayed failure"
    POLL_FAILING = "poll_failing", "queue polls failing"
    DLQ_DEPTH = "dlq_depth", "dead-letter queue depth"


# What set a notification off, in words, for the Deliveries page.
EVENT_WORDS: dict[str, str] = {
    Condition.NEW_GROUP: "a new group appeared",
    Condition.REGRESSION: "a resolved group regressed",
    Condition.SPIKE: "a group spiked",
    Condition.BACKLOG_AGE: "an unreplayed failure grew old",
    Condition.POLL_FAILING: "queue polls kept failing",
    Condition.DLQ_DEPTH: "dead letters piled up",
    "digest": "several alerts in one digest",
    "test": "a test notification",
}


GROUP_CONDITIONS = {
    Condition.NEW_GROUP,
    Condition.REGRESSION,
    Condition.SPIKE,
    Condition.BACKLOG_AGE,
}


class Rule(models.Model):
    """When to notify whom, in one environment. Each condition is on when its field is set."""

    environment = models.ForeignKey("invocations.Environment", on_delete=models.CASCADE)
    name = models.SlugField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True)
    channels = models.ManyToManyField(Channel, related_name="rules")
    on_new_group = models.BooleanField("a new group appears", default=False)
    on_regression = models.BooleanField("a resolved group regresses", default=False)
    spike_count = models.PositiveIntegerField(
        "spike: occurrences",
        null=True,
        blank=True,
        help_text="A group gets at least this many occurrences…",
    )
    spike_minutes = models.PositiveIntegerField(
        "spike: within minutes",
        null=True,
        blank=True,
        help_text="…within this many minutes.",
    )
    backlog_minutes = models.PositiveIntegerField(
        "oldest unreplayed failure older than (minutes)", null=True, blank=True
    )
    poll_failing_minutes = models.PositiveIntegerField(
        "queue polls failing for (minutes)", null=True, blank=True
    )
    dlq_depth = models.PositiveIntegerField(
        "dead letters waiting more than",
        null=True,
        blank=True,
        help_text="Dead letters from a watched DLQ not yet replayed with success.",
    )
    function_patterns = models.TextField(
        blank=True, help_text="Only these functions (shell wildcards, one a line or commas)."
    )
    error_types = models.TextField(
        blank=True, help_text="Only these error types (shell wildcards, one a line or commas)."
    )
    kinds = models.CharField(
        max_length=100,
        blank=True,
        help_text="Only groups with records of these kinds: failure, dlq, stream_failure.",
    )
    skip_acknowledged = models.BooleanField(
        "quiet for acknowledged groups", default=True, help_text="Someone is on it."
    )
    skip_assigned = models.BooleanField(
        "quiet for assigned groups", default=True, help_text="Someone owns it."
    )
    # Groups and regressions from before the rule existed are not news.
    created_at = models.DateTimeField(default=timezone.now)
    first_group_id = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_alerts", "Can manage alert rules and channels")]

    def __str__(self) -> str:
        return self.name

    @property
    def conditions(self) -> list[str]:
        on: list[str] = []
        if self.on_new_group:
            on.append(Condition.NEW_GROUP)
        if self.on_regression:
            on.append(Condition.REGRESSION)
        if self.spike_count and self.spike_minutes:
            on.append(Condition.SPIKE)
        if self.backlog_minutes:
            on.append(Condition.BACKLOG_AGE)
        if self.poll_failing_minutes:
            on.append(Condition.POLL_FAILING)
        if self.dlq_depth is not None:
            on.append(Condition.DLQ_DEPTH)
        return on

    def describe(self) -> str:
        parts = []
        for condition in self.conditions:
            if condition == Condition.SPIKE:
                parts.append(f"spike:{self.spike_count}/{self.spike_minutes}")
            elif condition == Condition.BACKLOG_AGE:
                parts.append(f"backlog_age:{self.backlog_minutes}")
            elif condition == Condition.POLL_FAILING:
                parts.append(f"poll_failing:{self.poll_failing_minutes}")
            elif condition == Condition.DLQ_DEPTH:
                parts.append(f"dlq_depth:{self.dlq_depth}")
            else:
                parts.append(str(condition))
        return ",".join(parts) or "(nothing)"

    def describe_in_words(self) -> str:
        """The conditions as a person reads them on the Alerts page."""
        words: dict[str, str] = {
            Condition.NEW_GROUP: "a new group appears",
            Condition.REGRESSION: "a resolved group regresses",
            Condition.SPIKE: f"a group gets {self.spike_count}+ occurrences "
            f"within {self.spike_minutes} min",
            Condition.BACKLOG_AGE: f"an unreplayed failure is over {self.backlog_minutes} min old",
            Condition.POLL_FAILING: f"queue polls fail for {self.poll_failing_minutes} min",
            Condition.DLQ_DEPTH: f"more than {self.dlq_depth} dead letters wait",
        }
        return "; ".join(words[c] for c in self.conditions) or "nothing"

    def matches_function(self, name: str) -> bool:
        patterns = _patterns(self.function_patterns)
        return not patterns or any(fnmatchcase(name, p) for p in patterns)

    def matches_error_type(self, error_type: str) -> bool:
        patterns = _patterns(self.error_types)
        return not patterns or any(fnmatchcase(error_type, p) for p in patterns)

    @property
    def kind_list(self) -> list[str]:
        return _patterns(self.kinds)


class AlertState(models.Model):
    """One rule's condition on one subject (a group or a queue). Its row is what makes a
    problem notify once: a condition fires only when it is not already active, and becomes
    free to fire again only when it clears."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="states")
    condition = models.CharField(max_length=20, choices=Condition.choices)
    group = models.ForeignKey(
        "invocations.FailureGroup", null=True, blank=True, on_delete=models.CASCADE
    )
    queue = models.ForeignKey(
        "invocations.WatchedQueue", null=True, blank=True, on_delete=models.CASCADE
    )
    # "group:12" or "queue:3": one unique key whatever the subject (NULLs are never equal).
    subject = models.CharField(max_length=40)
    active = models.BooleanField(default=False)
    # A new group is first noticed, then notified once it has settled (it may merge away).
    noticed_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)
    # The spike was last seen true here; it may fire again after a quiet period.
    last_true_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    # The newest regression notified (a GroupActivity id): each regression notifies once.
    marker = models.PositiveBigIntegerField(default=0)
    suppressed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "condition", "subject"], name="alertstate_unique_subject"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.condition} {self.subject}"


class NotificationQuerySet(models.QuerySet):
    def for_list(self):
        """The Deliveries page: newest first, with the rule and channel names."""
        return self.select_related("rule", "channel", "group").order_by("-id")


class Notification(models.Model):
    """One message to one channel, and how its delivery went."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        RETRYING = "retrying"
        DELIVERED = "delivered"
        FAILED = "failed", "failed (given up)"

    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=20)  # a Condition, "digest" or "test"
    # The group it is about (the first one of a digest); `groups` lists all of them.
    group = models.ForeignKey(
        "invocations.FailureGroup",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    groups = models.ManyToManyField(
        "invocations.FailureGroup", blank=True, related_name="notifications"
    )
    queue = models.ForeignKey(
        "invocations.WatchedQueue", null=True, blank=True, on_delete=models.SET_NULL
    )
    title = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # A digest during a storm that goes on is held until a minute after the last one.
    send_after = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The sweep that sends what the broker never took, and retries that are due.
            models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx"),
            # The digest count: one channel's notifications of the last minute.
            models.Index(fields=["channel", "created_at"], name="notification_channel_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.channel}: {self.status}"

    @property
    def event_in_words(self) -> str:
        """Why it was sent, as the Deliveries page says it (the rules list words conditions
        the same way)."""
        return EVENT_WORDS.get(self.event, self.event.replace("_", " "))

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DELIVERED, self.Status.FAILED}
