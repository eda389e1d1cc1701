"""Every list in invocations.aws reads all its pages. The sandbox answers lists one page at a
time at AWS's page sizes (sandbox/paging.py), so each test here makes more than a page and
reads it back through boto3's paginators. They work in a region of the session's sandbox that
no other test uses, so what they create shows in no other test's lists."""

import io
import uuid
import zipfile

import pytest

from invocations import aws

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(180)]

ROLE_ARN = "arn:aws:iam::123456789012:role/lambda-sandbox"
CODE = io.BytesIO()
with zipfile.ZipFile(CODE, "w") as _archive:
    _archive.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return 1\n")


@pytest.fixture
def env(sandbox_env):
    sandbox_env.region = "eu-west-3"
    sandbox_env.save()
    aws.reset_clients()
    return sandbox_env


@pytest.fixture
def new_function(env):
    def make(name: str = "") -> str:
        name = name or f"paged-{uuid.uuid4().hex[:12]}"
        aws.client(env, "lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE_ARN,
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": CODE.getvalue()},
        )
        return name

    return make


def _queue_arn(env, name: str) -> str:
    sqs = aws.client(env, "sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def test_every_function_is_read_though_the_sandbox_answers_fifty_a_page(env, new_function):
    names = {new_function() for _ in range(51)}

    first = aws.client(env, "lambda").list_functions()

    assert len(first["Functions"]) == 50
    assert first["NextMarker"]
    assert names <= {function["FunctionName"] for function in aws.list_functions(env)}


def test_every_version_of_a_function_is_read(env, new_function):
    name = new_function()
    awslambda = aws.client(env, "lambda")
    for number in range(1, 61):
        # moto publishes a version only when something changed since the last one.
        awslambda.update_function_configuration(FunctionName=name, Description=f"v{number}")
        awslambda.publish_version(FunctionName=name)

    versions = [version["version"] for version in aws.list_versions(env, name)]

    assert "NextMarker" in awslambda.list_versions_by_function(FunctionName=name)
    assert versions == ["$LATEST", *(str(number) for number in range(1, 61))]


def test_every_alias_of_a_function_is_read(env, new_function):
    name = new_function()
    awslambda = aws.client(env, "lambda")
    version = awslambda.publish_version(FunctionName=name)["Version"]
    for number in range(60):
        awslambda.create_alias(
            FunctionName=name, Name=f"alias-{number:02}", FunctionVersion=version
        )

    aliases = aws.list_aliases(env, name)

    assert "NextMarker" in awslambda.list_aliases(FunctionName=name)
    assert sorted(alias["Name"] for alias in aliases) == [f"alias-{n:02}" for n in range(60)]
    assert {alias["FunctionVersion"] for alias in aliases} == {version}


def test_every_event_source_mapping_of_a_function_is_read(env, new_function):
    name = new_function()
    awslambda = aws.client(env, "lambda")
    sources = {_queue_arn(env, f"source-{number}-{uuid.uuid4().hex[:6]}") for number in range(120)}
    created = [
        # Disabled: the sandbox starts a poller per mapping, and these need not poll.
        awslambda.create_event_source_mapping(
            FunctionName=name, EventSourceArn=source, Enabled=False
        )["UUID"]
        for source in sources
    ]
    try:
        mappings = aws.list_event_source_mappings(env, name)
        first = awslambda.list_event_source_mappings(FunctionName=name)
    finally:
        for mapping in created:
            awslambda.delete_event_source_mapping(UUID=mapping)

    assert (len(first["EventSourceMappings"]), "NextMarker" in first) == (100, True)
    assert {mapping["source"] for mapping in mappings} == sources


def test_every_queue_subscribed_to_a_topic_is_read(env):
    sns = aws.client(env, "sns")
    topic = sns.create_topic(Name=f"paged-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queues = {f"arn:aws:sqs:{env.region}:123456789012:subscriber-{n}" for n in range(120)}
    for queue in queues:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")

    subscriptions = aws.topic_queue_subscriptions(env, topic)

    assert "NextToken" in sns.list_subscriptions_by_topic(TopicArn=topic)
    assert {item["queue_arn"] for item in subscriptions} == queues


def test_every_queue_targeted_by_the_rules_of_a_bus_is_read(env):
    events = aws.client(env, "events")
    bus = events.create_event_bus(Name=f"paged-{uuid.uuid4().hex[:8]}")["EventBusArn"]
    queues = set()
    for number in range(110):
        rule = f"rule-{number}"
        events.put_rule(Name=rule, EventBusName=bus, EventPattern='{"source": ["orders"]}')
        queue = f"arn:aws:sqs:{env.region}:123456789012:target-{number}"
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue}])
        queues.add(queue)
    # One rule with more targets than a page.
    for start in range(0, 110, 10):
        batch = [
            {"Id": f"t{n}", "Arn": f"arn:aws:sqs:{env.region}:123456789012:many-{n}"}
            for n in range(start, start + 10)
        ]
        events.put_targets(Rule="rule-0", EventBusName=bus, Targets=batch)
        queues |= {target["Arn"] for target in batch}

    targets = aws.bus_queue_targets(env, bus)

    first_rules = events.list_rules(EventBusName=bus)
    first_targets = events.list_targets_by_rule(Rule="rule-0", EventBusName=bus)
    assert (len(first_rules["Rules"]), "NextToken" in first_rules) == (100, True)
    assert (len(first_targets["Targets"]), "NextToken" in first_targets) == (100, True)
    assert sorted(targets) == sorted(queues)
