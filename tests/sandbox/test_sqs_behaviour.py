"""The sandbox's SQS, seen through boto3: moto's threaded server with `sandbox.sqs_fast` installed.

The server runs in this process (so tests can move moto's clock); one test also starts a stock
moto server in a subprocess and checks that both answer a fixed script the same way.
"""

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core import utils as moto_utils
from moto.server import ThreadedMotoServer
from moto.sqs.models import sqs_backends

from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}

# Every test is bounded; a long poll here never waits more than a few seconds.
pytestmark = pytest.mark.timeout(60)


def _install_fast_sqs():
    # pytest does not put the repository on sys.path by itself until the project's pytest
    # configuration says so; make the import work either way.
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from sandbox.sqs_fast import install

    install()
    return install


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _client(endpoint):
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        config=Config(retries={"max_attempts": 1}, read_timeout=30),
    )


@pytest.fixture(scope="module")
def endpoint():
    _install_fast_sqs()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def sqs(endpoint, monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return _client(endpoint)


@pytest.fixture
def new_queue(sqs):
    def create(prefix="q", **attributes):
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        attributes = {key: str(value) for key, value in attributes.items()}
        return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]

    return create


@pytest.fixture
def queue_url(new_queue):
    return new_queue()


@pytest.fixture
def moto_clock(monkeypatch):
    """`moto_clock.move(seconds)`: moto's clock (which every visibility timeout and delay of
    the sandbox's SQS reads) runs `seconds` ahead of real time, so a test sees a timeout pass
    without waiting for it, and sees it not yet passed just before."""
    real_utcnow = moto_utils.utcnow

    class Clock:
        @staticmethod
        def move(seconds: float) -> None:
            monkeypatch.setattr(
                moto_utils, "utcnow", lambda: real_utcnow() + timedelta(seconds=seconds)
            )

    return Clock


def _counts(sqs, url):
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return {
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "not_visible": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
    }


def _receive(sqs, url, **kwargs):
    kwargs.setdefault("MaxNumberOfMessages", 10)
    return sqs.receive_message(QueueUrl=url, **kwargs).get("Messages", [])


def _bodies(messages):
    return [message["Body"] for message in messages]


def _send_bodies(sqs, url, bodies):
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
        response = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert len(response["Successful"]) == len(chunk)


def test_it_hides_a_received_message_until_its_visibility_timeout_expires(
    sqs, queue_url, moto_clock
):
    sqs.send_message(QueueUrl=queue_url, MessageBody="hello")
    first = _receive(sqs, queue_url, VisibilityTimeout=30)

    hidden = _receive(sqs, queue_url)
    moto_clock.move(29)
    still_hidden = _receive(sqs, queue_url)
    moto_clock.move(31)
    again = _receive(sqs, queue_url, AttributeNames=["ApproximateReceiveCount"])

    assert _bodies(first) == ["hello"]
    assert hidden == still_hidden == []
    assert _bodies(again) == ["hello"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]


def test_it_holds_a_delayed_message_back_until_its_delay_has_passed(sqs, queue_url, moto_clock):
    sqs.send_message(QueueUrl=queue_url, MessageBody="later", DelaySeconds=30)

    early = _receive(sqs, queue_url)
    counts_while_delayed = _counts(sqs, queue_url)
    moto_clock.move(29)
    still_early = _receive(sqs, queue_url)
    moto_clock.move(31)
    late = _receive(sqs, queue_url)

    assert early == still_early == []
    assert counts_while_delayed == {"visible": 0, "not_visible": 0, "delayed": 1}
    assert _bodies(late) == ["later"]


def test_it_applies_the_queue_delay_when_a_message_names_none(sqs, new_queue, moto_clock):
    url = new_queue(DelaySeconds=30)
    sqs.send_message(QueueUrl=url, MessageBody="queue-delayed")

    moto_clock.move(29)
    early = _receive(sqs, url)
    moto_clock.move(31)
    late = _receive(sqs, url)

    assert early == []
    assert _bodies(late) == ["queue-delayed"]


def test_it_wakes_a_long_poll_as_soon_as_a_message_is_sent(sqs, endpoint, queue_url):
    sender = threading.Timer(
        0.3, lambda: _client(endpoint).send_message(QueueUrl=queue_url, MessageBody="wake")
    )

    started = time.monotonic()
    sender.start()
    messages = _receive(sqs, queue_url, WaitTimeSeconds=20)
    elapsed = time.monotonic() - started
    sender.join()

    assert _bodies(messages) == ["wake"]
    # Returned before the long poll ran out: an implementation that looked again only at the
    # end of WaitTimeSeconds would take the whole 20 s. (The protocol's own timer, not a speed.)
    assert elapsed < 20


def test_it_returns_an_empty_long_poll_after_wait_time_seconds(sqs, queue_url):
    started = time.monotonic()

    messages = _receive(sqs, queue_url, WaitTimeSeconds=1)

    elapsed = time.monotonic() - started
    assert messages == []
    assert elapsed >= 1  # it waited the whole WaitTimeSeconds (a busy machine only adds to it)


def test_it_ends_a_long_poll_when_an_in_flight_message_comes_back(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="boomerang")
    _receive(sqs, queue_url, VisibilityTimeout=1)

    started = time.monotonic()
    messages = _receive(sqs, queue_url, WaitTimeSeconds=20)
    elapsed = time.monotonic() - started

    assert _bodies(messages) == ["boomerang"]
    assert elapsed < 20  # came back after its 1 s timeout, not at the end of the long poll


def test_it_returns_at_most_max_number_of_messages_in_the_order_they_were_sent(sqs, queue_url):
    _send_bodies(sqs, queue_url, [f"m{i}" for i in range(25)])

    first = _receive(sqs, queue_url, MaxNumberOfMessages=4)
    second = _receive(sqs, queue_url, MaxNumberOfMessages=10)

    assert _bodies(first) == ["m0", "m1", "m2", "m3"]
    assert _bodies(second) == [f"m{i}" for i in range(4, 14)]


def test_it_gives_each_message_to_one_of_several_concurrent_consumers(sqs, endpoint, queue_url):
    _send_bodies(sqs, queue_url, [f"m{i}" for i in range(300)])

    def consume():
        consumer, bodies = _client(endpoint), []
        while batch := _receive(consumer, queue_url, VisibilityTimeout=60):
            bodies += _bodies(batch)
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ]
            consumer.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        return bodies

    with ThreadPoolExecutor(4) as pool:
        received = [body for bodies in pool.map(lambda _: consume(), range(4)) for body in bodies]

    assert sorted(received) == sorted(f"m{i}" for i in range(300))
    assert _counts(sqs, queue_url) == {"visible": 0, "not_visible": 0, "delayed": 0}


def test_it_reports_a_bad_receipt_handle_as_a_partial_failure_in_a_batch_delete(sqs, queue_url):
    _send_bodies(sqs, queue_url, ["a", "b"])
    messages = _receive(sqs, queue_url)
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    entries.append({"Id": "bad", "ReceiptHandle": "not-a-receipt-handle"})

    response = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)

    assert sorted(entry["Id"] for entry in response["Successful"]) == ["0", "1"]
    [failure] = response["Failed"]
    assert failure["Id"] == "bad"
    assert failure["Code"] == "ReceiptHandleIsInvalid"
    assert failure["SenderFault"] is True
    assert _counts(sqs, queue_url) == {"visible": 0, "not_visible": 0, "delayed": 0}


def test_it_accepts_deleting_the_same_message_twice(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="once")
    [message] = _receive(sqs, queue_url)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    assert _receive(sqs, queue_url) == []


def test_it_moves_a_message_to_the_dead_letter_queue_after_max_receives(sqs, new_queue):
    dlq_url = new_queue("dlq")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    policy = {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": 2}
    url = new_queue("src", RedrivePolicy=json.dumps(policy))
    sqs.send_message(QueueUrl=url, MessageBody="poison")

    receives = [_bodies(_receive(sqs, url, VisibilityTimeout=0)) for _ in range(3)]
    dead = _receive(sqs, dlq_url, AttributeNames=["ApproximateReceiveCount"])

    assert receives == [["poison"], ["poison"], []]
    assert _bodies(dead) == ["poison"]
    assert dead[0]["Attributes"]["ApproximateReceiveCount"] == "3"
    assert _counts(sqs, url) == {"visible": 0, "not_visible": 0, "delayed": 0}


def test_it_returns_message_attributes_and_system_attributes(sqs, queue_url):
    before_ms = int(time.time() * 1000)
    sent = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody="with attributes",
        MessageAttributes={
            "Kind": {"DataType": "String", "StringValue": "invocation"},
            "Attempt": {"DataType": "Number", "StringValue": "3"},
            "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )

    [message] = _receive(
        sqs, queue_url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )

    assert message["MessageId"] == sent["MessageId"]
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["MessageAttributes"]["Kind"] == {
        "DataType": "String",
        "StringValue": "invocation",
    }
    assert message["MessageAttributes"]["Blob"]["BinaryValue"] == b"\x00\x01"
    system = message["Attributes"]
    assert system["ApproximateReceiveCount"] == "1"
    assert int(system["SentTimestamp"]) >= before_ms - 1000
    assert int(system["ApproximateFirstReceiveTimestamp"]) >= int(system["SentTimestamp"])
    assert system["SenderId"]


def test_it_filters_message_attributes_without_losing_them(sqs, queue_url):
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody="x",
        MessageAttributes={
            "Kind": {"DataType": "String", "StringValue": "a"},
            "Other": {"DataType": "String", "StringValue": "b"},
        },
    )

    [only_kind] = _receive(sqs, queue_url, VisibilityTimeout=0, MessageAttributeNames=["Kind"])
    [none] = _receive(sqs, queue_url, VisibilityTimeout=0)
    [everything] = _receive(sqs, queue_url, MessageAttributeNames=["All"])

    assert list(only_kind["MessageAttributes"]) == ["Kind"]
    assert "MessageAttributes" not in none
    assert sorted(everything["MessageAttributes"]) == ["Kind", "Other"]


def test_it_empties_the_queue_on_purge(sqs, queue_url):
    _send_bodies(sqs, queue_url, [f"m{i}" for i in range(15)])
    [in_flight] = _receive(sqs, queue_url, MaxNumberOfMessages=1)
    sqs.send_message(QueueUrl=queue_url, MessageBody="delayed", DelaySeconds=60)

    sqs.purge_queue(QueueUrl=queue_url)

    assert _counts(sqs, queue_url) == {"visible": 0, "not_visible": 0, "delayed": 0}
    assert _receive(sqs, queue_url) == []
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=in_flight["ReceiptHandle"])
    sqs.send_message(QueueUrl=queue_url, MessageBody="after purge")
    assert _bodies(_receive(sqs, queue_url)) == ["after purge"]


def test_it_counts_visible_in_flight_and_delayed_messages(sqs, queue_url):
    _send_bodies(sqs, queue_url, [f"m{i}" for i in range(12)])
    sqs.send_message(QueueUrl=queue_url, MessageBody="d1", DelaySeconds=60)
    sqs.send_message(QueueUrl=queue_url, MessageBody="d2", DelaySeconds=60)

    received = _receive(sqs, queue_url, MaxNumberOfMessages=5)
    after_receive = _counts(sqs, queue_url)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=received[0]["ReceiptHandle"])
    after_delete = _counts(sqs, queue_url)

    assert after_receive == {"visible": 7, "not_visible": 5, "delayed": 2}
    assert after_delete == {"visible": 7, "not_visible": 4, "delayed": 2}


def test_it_lists_queues_and_reports_their_settings(sqs, new_queue):
    url = new_queue("listed", VisibilityTimeout=45)

    urls = sqs.list_queues(QueueNamePrefix="listed-")["QueueUrls"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout", "ApproximateNumberOfMessages"]
    )["Attributes"]

    assert url in urls
    assert attributes == {"VisibilityTimeout": "45", "ApproximateNumberOfMessages": "0"}


def test_it_changes_the_visibility_of_a_received_message(sqs, queue_url, moto_clock):
    _send_bodies(sqs, queue_url, ["a", "b", "c"])
    a, b, c = _receive(sqs, queue_url, VisibilityTimeout=300)

    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=a["ReceiptHandle"], VisibilityTimeout=0
    )
    batch = sqs.change_message_visibility_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": "b", "ReceiptHandle": b["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "bad", "ReceiptHandle": "not-a-receipt-handle", "VisibilityTimeout": 0},
        ],
    )
    # moto counts a message visible strictly after its visible_at: a millisecond later.
    moto_clock.move(0.01)
    back = _receive(sqs, queue_url)

    assert [entry["Id"] for entry in batch["Successful"]] == ["b"]
    assert [(entry["Id"], entry["Code"]) for entry in batch["Failed"]] == [
        ("bad", "ReceiptHandleIsInvalid")
    ]
    assert _bodies(back) == ["a", "b"]
    assert _counts(sqs, queue_url) == {"visible": 0, "not_visible": 3, "delayed": 0}


def test_it_can_hide_a_message_longer_with_change_visibility(sqs, queue_url, moto_clock):
    sqs.send_message(QueueUrl=queue_url, MessageBody="slow")
    [message] = _receive(sqs, queue_url, VisibilityTimeout=30)

    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=60
    )
    moto_clock.move(31)

    assert _receive(sqs, queue_url) == []
    assert _counts(sqs, queue_url)["not_visible"] == 1


def test_it_keeps_fifo_queues_in_order_through_motos_own_path(sqs):
    url = sqs.create_queue(
        QueueName=f"ordered-{uuid.uuid4().hex[:12]}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"f{i}", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="f0", MessageGroupId="g")  # deduplicated

    first = _receive(sqs, url, MaxNumberOfMessages=3)
    blocked = _receive(sqs, url)
    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(first)],
    )
    rest = _receive(sqs, url)

    assert _bodies(first) == ["f0", "f1", "f2"]
    assert blocked == []
    assert _bodies(rest) == ["f3", "f4"]


def test_it_follows_motos_clock_so_time_travel_still_works(sqs, queue_url, monkeypatch):
    sqs.send_message(QueueUrl=queue_url, MessageBody="in flight")
    sqs.send_message(QueueUrl=queue_url, MessageBody="delayed", DelaySeconds=600)
    _receive(sqs, queue_url, VisibilityTimeout=600)
    real_utcnow = moto_utils.utcnow

    monkeypatch.setattr(moto_utils, "utcnow", lambda: real_utcnow() + timedelta(seconds=601))
    counts = _counts(sqs, queue_url)
    messages = _receive(sqs, queue_url)

    assert counts == {"visible": 2, "not_visible": 0, "delayed": 0}
    assert sorted(_bodies(messages)) == ["delayed", "in flight"]


def test_it_receives_as_fast_from_a_deep_queue_as_from_a_shallow_one(endpoint):
    # Straight to the backend, skipping HTTP, so the queue's own cost is what is measured.
    backend = sqs_backends[DEFAULT_ACCOUNT_ID][REGION]

    def seconds_per_drain_call(depth):
        name = f"deep-{uuid.uuid4().hex[:12]}"
        backend.create_queue(name)
        for i in range(depth):
            backend.send_message(name, f"m{i}")
        started = time.perf_counter()
        for _ in range(20):
            for message in backend.receive_message(name, 10, 0, 30):
                backend.delete_message(name, message.receipt_handle)
        return (time.perf_counter() - started) / 20

    shallow = seconds_per_drain_call(200)
    deep = seconds_per_drain_call(20_000)

    # Stock moto is hundreds of times slower at this depth; leave room for a noisy machine.
    assert deep < shallow * 3 + 0.002


def test_it_forgets_deleted_in_flight_messages_before_their_timeout_is_up(endpoint):
    backend = sqs_backends[DEFAULT_ACCOUNT_ID][REGION]
    name = f"sweep-{uuid.uuid4().hex[:12]}"
    queue = backend.create_queue(name)
    for i in range(3000):
        backend.send_message(name, f"m{i}")

    for _ in range(300):
        for message in backend.receive_message(name, 10, 0, 3600):
            backend.delete_message(name, message.receipt_handle)

    assert queue.approximate_number_of_messages_not_visible == 0
    assert len(queue.__dict__["_fast_index"].waiting) <= 1000


def test_it_is_harmless_to_install_twice(sqs, queue_url):
    install = _install_fast_sqs()

    install()
    sqs.send_message(QueueUrl=queue_url, MessageBody="still one")

    assert _bodies(_receive(sqs, queue_url)) == ["still one"]


# -- Patched against stock moto ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stock_endpoint():
    port = _free_port()
    # A separate interpreter that never imports sandbox.sqs_fast.
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers() -> bool:
        if server.poll() is not None:
            raise AssertionError("the stock moto server exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return False
        return True

    try:
        wait_until(answers, timeout=30, message="the stock moto server did not start")
    except AssertionError:
        server.kill()
        raise
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


def _scripted_session(sqs):
    """A fixed run of operations; returns what boto3 saw, minus ids, handles and times."""
    seen = []
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"script-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    src = sqs.create_queue(QueueName=f"script-src-{suffix}", Attributes={"RedrivePolicy": policy})[
        "QueueUrl"
    ]

    def counts(url):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return {
            key: value
            for key, value in attributes["Attributes"].items()
            if key.startswith("ApproximateNumber")
        }

    def receive(url, **kwargs):
        messages = _receive(
            sqs,
            url,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SenderId"],
            **kwargs,
        )
        for message in messages:
            seen.append(
                [
                    message["Body"],
                    message["MD5OfBody"],
                    message.get("MessageAttributes"),
                    message.get("MD5OfMessageAttributes"),
                    message["Attributes"],
                ]
            )
        return messages

    def batch_result(response):
        return (
            sorted(entry["Id"] for entry in response["Successful"]),
            sorted((entry["Id"], entry["Code"]) for entry in response.get("Failed", [])),
        )

    entries = [
        {
            "Id": f"e{i}",
            "MessageBody": f"body {i}",
            "MessageAttributes": {"N": {"DataType": "Number", "StringValue": str(i)}},
        }
        for i in range(10)
    ]
    entries[3]["DelaySeconds"] = 120
    sent = sqs.send_message_batch(QueueUrl=src, Entries=entries)
    seen.append(sorted((e["Id"], e["MD5OfMessageBody"]) for e in sent["Successful"]))
    sqs.send_message(QueueUrl=src, MessageBody="single")
    seen.append(counts(src))

    receive(src, MaxNumberOfMessages=3, VisibilityTimeout=0)
    first = receive(src, MaxNumberOfMessages=4, VisibilityTimeout=300)
    seen.append(counts(src))
    visible = int(counts(src)["ApproximateNumberOfMessages"])
    sqs.change_message_visibility(
        QueueUrl=src, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    # One run is a stock moto server in another process, whose clock no test can move.
    wait_until(lambda: int(counts(src)["ApproximateNumberOfMessages"]) == visible + 1)
    again = receive(src, MaxNumberOfMessages=10, VisibilityTimeout=300)
    seen.append(counts(src))
    handles = [m["ReceiptHandle"] for m in first[1:3] + again[:2]]
    delete = sqs.delete_message_batch(
        QueueUrl=src,
        Entries=[{"Id": f"d{i}", "ReceiptHandle": h} for i, h in enumerate(handles)]
        + [{"Id": "bad", "ReceiptHandle": "nonsense"}],
    )
    seen.append(batch_result(delete))
    seen.append(counts(src))
    seen.append(counts(dlq))
    receive(dlq, VisibilityTimeout=0)
    sqs.purge_queue(QueueUrl=src)
    seen.append(counts(src))
    return seen


def test_it_answers_a_fixed_script_exactly_as_stock_moto_does(sqs, stock_endpoint):
    stock = _client(stock_endpoint)

    patched_run = _scripted_session(sqs)
    stock_run = _scripted_session(stock)

    assert patched_run == stock_run


@pytest.mark.parametrize(
    ("body", "attributes", "code"),
    [
        ("lone \ud800 surrogate", {}, "InvalidMessageContents"),
        ("ok", {"bad name!": {"DataType": "String", "StringValue": "v"}}, "InvalidParameterValue"),
        ("ok", {".hidden": {"DataType": "String", "StringValue": "v"}}, "InvalidParameterValue"),
        ("ok", {"AWS.x": {"DataType": "String", "StringValue": "v"}}, "InvalidParameterValue"),
        ("ok", {"k": {"DataType": "String", "StringValue": "\ud800"}}, "InvalidParameterValue"),
    ],
)
def test_a_refused_send_stores_nothing(sqs, queue_url, body, attributes, code):
    with pytest.raises(sqs.exceptions.ClientError) as refused:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body, MessageAttributes=attributes)
    sqs.send_message(QueueUrl=queue_url, MessageBody="valid")

    messages = _receive(sqs, queue_url, MessageAttributeNames=["All"])

    assert refused.value.response["Error"]["Code"] == code
    assert _bodies(messages) == ["valid"]
    assert _counts(sqs, queue_url)["not_visible"] == 1


def test_a_batch_with_one_refused_entry_stores_none_of_it(sqs, queue_url):
    entries = [
        {"Id": "good", "MessageBody": "fine"},
        {"Id": "bad", "MessageBody": "lone \ud800 surrogate"},
    ]

    with pytest.raises(sqs.exceptions.ClientError):
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)

    assert _counts(sqs, queue_url) == {"visible": 0, "not_visible": 0, "delayed": 0}
