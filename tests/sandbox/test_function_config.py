"""The configuration moto 5.2.5 gets wrong, as the sandbox answers it."""

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(30)]

SOURCE = "def lambda_handler(event, context):\n    return 1\n"


def test_get_function_returns_the_dead_letter_config(awslambda, sqs):
    dlq_url = sqs.get_queue_url(QueueName="orders-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    configuration = awslambda.get_function(FunctionName="orders")["Configuration"]

    assert configuration["DeadLetterConfig"] == {"TargetArn": dlq_arn}


def test_update_function_configuration_sets_and_clears_the_dead_letter_config(
    awslambda, make_function
):
    name = make_function(SOURCE)
    target = "arn:aws:sqs:us-east-1:123456789012:somewhere-dlq"

    awslambda.update_function_configuration(
        FunctionName=name, DeadLetterConfig={"TargetArn": target}
    )
    after_set = awslambda.get_function_configuration(FunctionName=name)
    awslambda.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": ""})
    after_clear = awslambda.get_function_configuration(FunctionName=name)

    assert after_set["DeadLetterConfig"] == {"TargetArn": target}
    assert "DeadLetterConfig" not in after_clear


def test_a_second_put_of_the_event_invoke_config_replaces_the_first(awslambda, make_function):
    name = make_function(SOURCE)
    queue = "arn:aws:sqs:us-east-1:123456789012:anywhere"
    awslambda.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue}},
    )

    awslambda.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)

    config = awslambda.get_function_event_invoke_config(FunctionName=name)
    assert config["MaximumRetryAttempts"] == 0
    assert config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") is None


def test_updating_the_event_invoke_config_merges_into_it(awslambda, make_function):
    name = make_function(SOURCE)
    queue = "arn:aws:sqs:us-east-1:123456789012:anywhere"
    awslambda.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue}},
    )

    awslambda.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=120)

    config = awslambda.get_function_event_invoke_config(FunctionName=name)
    assert config["MaximumRetryAttempts"] == 1
    assert config["MaximumEventAgeInSeconds"] == 120
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue


def test_seeding_again_changes_nothing(sandbox):
    from sandbox.seed import seed

    first = seed(sandbox.endpoint_url, sandbox.region)
    second = seed(sandbox.endpoint_url, sandbox.region)

    assert first == second
    assert {"hello", "orders", "flaky", "slow", "chatty", "throttled", "api-login"} <= set(
        second["functions"]
    )
    kinds = {(queue["function"], queue["kind"]) for queue in second["queues"]}
    assert ("orders", "dlq") in kinds
    assert ("orders", "destination") in kinds
