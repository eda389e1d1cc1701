"""No request answers 5xx, on SQLite and on PostgreSQL (`tests/postgres/run.sh pytest` runs
this module there, where NUL in text is refused): every URL pattern (found by walking the URL
resolver, so a new view is fuzzed the day it is added), as every role, by GET with fuzzed query
parameters and by POST with fuzzed fields, with fuzzed ids and names in the path; and every
admin list filter, with ids past 64 bits, NUL and odd digits.

Hypothesis draws the requests from a fixed seed (derandomize), so a run in CI draws the same ones
as a run here and cannot flake; a failure prints the request that broke. AWS is moto in-process,
so the views that call it get quick answers."""

import json
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from invocations import aws
from tests.access.test_access_matrix import ROLES, objects  # noqa: F401  (objects is a fixture)
from tests.access.test_login_required import ROUTES
from tests.conftest import ensure_roles

pytestmark = pytest.mark.django_db

# What each path parameter names, for the values that find an object; fuzzed values join them.
KNOWN = {
    "pk": lambda objs, name: objs[{"template-delete": "template"}.get(name, _pk_kind(name))],
    "name": lambda objs, name: objs["function"],
    "action": lambda objs, name: "comment",
}


def _pk_kind(name: str) -> str:
    for prefix, kind in [
        ("invocation", "invocation"),
        ("record", "record"),
        ("queue", "queue"),
        ("group", "group"),
        ("replay", "batch"),
    ]:
        if name.startswith(prefix):
            return kind
    return "invocation"


# The names the views read from GET and POST, each with values of its kind (ids, days, JSON,
# qualifiers) plus hostile ones; fuzzed names join them.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
HOSTILE = st.sampled_from(
    [
        "",
        "\x00",
        "²",
        "١٢",
        "NaN",
        "v" * 300,
        "a/b/../c",
        "https://evil.example/",
        "//evil.example",
        "<script>alert(1)</script>",
    ]
)
# Each list of edge values is given twice to one_of: drawn half the time, not a quarter.
EDGE_IDS = st.sampled_from(["0", "-1", "1", str(2**31), str(2**63 - 1), str(2**63), str(2**64)])
IDS = st.one_of(
    EDGE_IDS,
    EDGE_IDS,
    st.integers(-(2**70), 2**70).map(str),
    st.lists(st.integers(0, 2**65).map(str), min_size=1, max_size=3).map(",".join),
    HOSTILE,
)
EDGE_DAYS = st.sampled_from(
    [
        "9999-12-31",
        "9999-12-30",
        "0001-01-01",
        "2024-02-30",
        "2024-13-45T00:00:00",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00+14:00",
    ]
)
DAYS = st.one_of(
    EDGE_DAYS,
    EDGE_DAYS,
    st.dates().map(str),
    st.datetimes().map(lambda moment: moment.isoformat()),
    HOSTILE,
)
EDGE_JSON = st.sampled_from(
    [
        "NaN",
        '{"x": Infinity}',
        "[1e999]",
        '"\\ud800"',
        '{"a": "\\udfff", "password": "\\ud800"}',
        "[" * 10_000 + "]" * 10_000,
        "7" * 5_000,
        "{}",
    ]
)
JSON_TEXT = st.one_of(
    EDGE_JSON,
    EDGE_JSON,
    st.builds(json.dumps, st.recursive(st.none() | st.integers() | TEXT, st.lists, max_leaves=8)),
    HOSTILE,
)
WORDS = st.one_of(
    st.sampled_from(
        [
            "$LATEST",
            "hello",
            "all",
            "status",
            "acknowledged",
            "resolved",
            "snooze_1",
            "assign_me",
            "RequestResponse",
            "Event",
            "DryRun",
            "on",
            "json",
            "builtin:nope",
            "backlog",
            "me",
            "system",
        ]
    ),
    TEXT,
    HOSTILE,
)
FIELDS = {
    **dict.fromkeys(
        ["environment", "group", "groups", "records", "rerun_of", "hours", "occurrences", "page"],
        IDS,
    ),
    **dict.fromkeys(["date", "before"], st.one_of(DAYS, IDS)),
    **dict.fromkeys(["payload"], JSON_TEXT),
    **dict.fromkeys(["template", "from"], st.one_of(IDS, WORDS)),
    **dict.fromkeys(
        [
            "action",
            "assignee",
            "confirm_name",
            "format",
            "function",
            "invocation_type",
            "kind",
            "name",
            "next",
            "override",
            "password",
            "q",
            "qualifier",
            "queue_url",
            "shared",
            "sort",
            "status",
            "text",
            "type",
            "url",
            "username",
            "version",
            "who",
        ],
        WORDS,
    ),  # fmt: skip
}
SEGMENT_NASTY = [
    "0",
    str(2**63),
    str(2**64),
    "99999",
    "hello",
    "comment",
    "status",
    "x y",
    "%",
    "\x00",
    "a\x00b",
    "²",
    "١٢",
]


def _fields(data, read: list[str]) -> dict:
    """Values for some of the names the view reads (the probe below found them), some of the
    others, and a made-up one or two."""
    chosen = (
        data.draw(st.sets(st.sampled_from(read), max_size=len(read)), label="names")
        if read
        else set()
    )
    chosen |= data.draw(st.sets(st.sampled_from(sorted(FIELDS)), max_size=3), label="others")
    fields = {
        name: data.draw(st.lists(FIELDS.get(name, WORDS), min_size=1, max_size=2), label=name)
        for name in sorted(chosen)
    }
    fields.update(data.draw(st.dictionaries(TEXT.filter(bool), WORDS, max_size=2), label="more"))
    return fields


def _converters(route: str) -> list[tuple[str, str]]:
    found, rest = [], route
    while "<" in rest:
        inner = rest[rest.index("<") + 1 : rest.index(">")]
        converter, _, name = inner.rpartition(":")
        found.append((converter or "str", name))
        rest = rest[rest.index(">") + 1 :]
    return found


def _path(route: str, values: dict) -> str:
    path = route
    for converter, name in _converters(route):
        token = f"<{converter}:{name}>" if f"<{converter}:{name}>" in path else f"<{name}>"
        path = path.replace(token, quote(str(values[name]), safe=""), 1)
    return "/" + path


def _segment(converter: str, known):
    fuzzed = (
        st.integers(0, 2**70)
        if converter == "int"
        else st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20)
    )
    return st.one_of(st.just(known), st.sampled_from(SEGMENT_NASTY), fuzzed)


ROLE_NAMES = ["anonymous", *ROLES]


@pytest.fixture
def people(db, django_user_model):
    ensure_roles()
    users = {}
    for role, groups in ROLES.items():
        user = django_user_model.objects.create_user(f"fuzz-{role}", password="pw")
        user.groups.set(Group.objects.filter(name__in=groups))
        users[role] = user
    users["admin"].is_staff = users["admin"].is_superuser = True
    users["admin"].save()
    return users


@pytest.fixture
def moto_aws(objects, settings):  # noqa: F811
    from invocations.models import Environment

    # A closed port: the broker checks fail at once instead of waiting on someone's Redis.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    with mock_aws():
        env = Environment.objects.default()
        env.endpoint_url = ""
        env.save()
        aws.reset_clients()
        yield
    aws.reset_clients()


FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # No shrinking: a failure is reported at once with the request that broke, instead of after
    # minutes of searching for a smaller one.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


def _reads(client, method: str, path: str) -> list[str]:
    """The GET and POST names a view reads, found by sending it an empty request and noting
    every name looked up (forms look up each of their fields)."""
    from django.utils.datastructures import MultiValueDict

    read: set[str] = set()
    originals = {m: getattr(MultiValueDict, m) for m in ("get", "getlist", "__getitem__")}

    def spy(method_name):
        def looked_up(self, key, *args, **kwargs):
            read.add(key)
            return originals[method_name](self, key, *args, **kwargs)

        return looked_up

    for method_name in originals:
        setattr(MultiValueDict, method_name, spy(method_name))
    try:
        getattr(client, method)(path)
    finally:
        for method_name, original in originals.items():
            setattr(MultiValueDict, method_name, original)
    return sorted(key for key in read if isinstance(key, str))


PROBED: dict[tuple[str, str], list[str]] = {}


@pytest.mark.parametrize(("name", "route"), ROUTES, ids=[name for name, _ in ROUTES])
@FUZZ
@given(data=st.data())
def test_no_request_answers_5xx(name, route, data, objects, people, moto_aws):  # noqa: F811
    role = data.draw(st.sampled_from(ROLE_NAMES), label="role")
    method = data.draw(st.sampled_from(["get", "post"]), label="method")
    values = {
        param: data.draw(
            _segment(converter, KNOWN.get(param, lambda o, n: "x")(objects, name)), label=param
        )
        for converter, param in _converters(route)
    }
    admin = Client()
    admin.force_login(people["admin"])
    known_path = _path(
        route, {p: KNOWN.get(p, lambda o, n: "x")(objects, name) for _, p in _converters(route)}
    )
    if (route, method) not in PROBED:
        PROBED[route, method] = _reads(admin, method, known_path)
    fields = _fields(data, PROBED[route, method])
    htmx = data.draw(st.booleans(), label="htmx")
    headers = {"HX-Request": "true", "HX-Target": "main"} if htmx else {}

    # As the drawn role, and as the admin, whom no permission stops before the view's own work.
    for who in dict.fromkeys([role, "admin"]):
        client = Client()
        if who != "anonymous":
            client.force_login(people[who])
        response = getattr(client, method)(_path(route, values), fields, headers=headers)

        # /health/ answers 503 on purpose when it finds the dashboard down (no broker here).
        down = response.status_code == 503 and response.get("X-Health-Status") == "down"
        assert response.status_code < 500 or down, f"{method.upper()} {route} {fields} as {who}"


def _admin_list_filters() -> list[tuple[str, list[str]]]:
    """Every admin changelist and the names its list filters read (each filter's own
    parameters, as the admin builds them)."""
    from django.contrib import admin
    from django.contrib.admin.views.main import ChangeList  # noqa: F401 (the admin's filters)

    found = []
    for model, model_admin in admin.site._registry.items():
        filters = getattr(model_admin, "list_filter", ()) or ()
        if not filters:
            continue
        names = []
        for spec in filters:
            field = spec if isinstance(spec, str) else getattr(spec, "parameter_name", "")
            if not field:
                continue
            names += [field, f"{field}__exact", f"{field}__id__exact", f"{field}__isnull"]
            names += [f"{field}__gte", f"{field}__lt"]
        url = f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        found.append((url, names))
    return sorted(found)


ADMIN_LISTS = _admin_list_filters()


# A date without a zone in a datetime filter is a warning of Django's, taken as it comes.
@pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime:RuntimeWarning")
@pytest.mark.parametrize(("url", "names"), ADMIN_LISTS, ids=[url for url, _ in ADMIN_LISTS])
@FUZZ
@given(data=st.data())
def test_no_admin_list_filter_answers_5xx(url, names, data, objects, people):  # noqa: F811
    from django.urls import reverse

    chosen = data.draw(st.sets(st.sampled_from(names), min_size=1, max_size=3), label="names")
    fields = {name: data.draw(st.one_of(IDS, WORDS, DAYS), label=name) for name in sorted(chosen)}
    fields.update(data.draw(st.dictionaries(TEXT.filter(bool), WORDS, max_size=1), label="more"))
    client = Client()
    client.force_login(people["admin"])

    response = client.get(reverse(url), fields)

    assert response.status_code < 500, f"GET {url} {fields}"
