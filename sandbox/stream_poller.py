"""Kinesis and DynamoDB stream event source mappings, as Lambda's poller runs them.

Each shard is read in order from ``StartingPosition`` (``TRIM_HORIZON``, ``LATEST`` or
``AT_TIMESTAMP``), in batches of up to ``BatchSize`` gathered for at most
``MaximumBatchingWindowInSeconds``. A failed batch blocks its shard and is retried until it
succeeds, until ``MaximumRetryAttempts`` retries are used up (``RetryAttemptsExhausted``) or
until its oldest record is older than ``MaximumRecordAgeInSeconds`` (``RecordAgeExceeded``);
then the batch is discarded and the mapping's ``DestinationConfig.OnFailure`` (SQS or SNS)
receives Lambda's stream-failure record, with ``KinesisBatchInfo`` or ``DDBStreamBatchInfo``
describing the discarded records. ``BisectBatchOnFunctionError`` splits a failed batch in two
without using a retry; ``ReportBatchItemFailures`` retries from the lowest failed sequence
number. A throttled invoke is retried without using a retry, until the records are too old.

Time is compressed as for asynchronous invocations: ``MaximumRecordAgeInSeconds`` and the
backoff between retries are multiplied by the sandbox's time scale (``retry_delays[0] / 60``),
so a 60 s maximum record age discards after 1 s by default. The batching window is a real
number of seconds.
"""

import base64
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import uuid4

from botocore.exceptions import BotoCoreError, ClientError

from sandbox import metrics
from sandbox.destinations import Deliverer
from sandbox.mappings import MappedFunction, Outcome, PollContext

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.2  # Lambda polls a Kinesis shard once a second, a DynamoDB shard 4 times
MIN_RETRY_BACKOFF_S = 0.05
READ_LIMIT = 1000


@dataclass
class StreamRecord:
    sequence_number: str
    arrival: float  # epoch seconds
    event_record: dict  # the record as the function's event carries it


@dataclass
class Batch:
    records: list[StreamRecord]
    retries: int = 0
    invokes: int = 0
    not_before: float = 0.0  # time.monotonic() of the next attempt
    last: Outcome | None = None


@dataclass
class Shard:
    shard_id: str
    iterator: str | None = None
    buffered: list[StreamRecord] = field(default_factory=list)
    first_buffered_at: float | None = None
    batches: deque = field(default_factory=deque)


class KinesisSource:
    batch_info_key = "KinesisBatchInfo"

    def __init__(self, context: PollContext, role: str) -> None:
        self.arn = context.mapping.event_source_arn
        self.region = self.arn.split(":")[3]
        self.stream_name = self.arn.split(":", 5)[5].split("/", 1)[1]
        self.client = context.clients.get("kinesis", self.region)
        self.role = role

    def shard_ids(self) -> list[str]:
        shards = self.client.list_shards(StreamName=self.stream_name)["Shards"]
        return [shard["ShardId"] for shard in shards]

    def iterator(self, shard_id: str, position: str, timestamp) -> str:
        arguments = {"StreamName": self.stream_name, "ShardId": shard_id}
        arguments["ShardIteratorType"] = position
        if position == "AT_TIMESTAMP":
            arguments["Timestamp"] = timestamp
        return self.client.get_shard_iterator(**arguments)["ShardIterator"]

    def read(self, shard_id: str, iterator: str, limit: int):
        response = self.client.get_records(ShardIterator=iterator, Limit=limit)
        records = [self._record(shard_id, item) for item in response["Records"]]
        return records, response.get("NextShardIterator") or iterator

    def _record(self, shard_id: str, item: dict) -> StreamRecord:
        arrival = item["ApproximateArrivalTimestamp"].timestamp()
        sequence = item["SequenceNumber"]
        event_record = {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": item["PartitionKey"],
                "sequenceNumber": sequence,
                "data": base64.b64encode(item["Data"]).decode("ascii"),
                "approximateArrivalTimestamp": round(arrival, 3),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{sequence}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": self.role,
            "awsRegion": self.region,
            "eventSourceARN": self.arn,
        }
        return StreamRecord(sequence, arrival, event_record)


class DynamoDBSource:
    batch_info_key = "DDBStreamBatchInfo"

    def __init__(self, context: PollContext, role: str) -> None:
        self.arn = context.mapping.event_source_arn
        self.region = self.arn.split(":")[3]
        self.client = context.clients.get("dynamodbstreams", self.region)

    def shard_ids(self) -> list[str]:
        description = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description["Shards"]]

    def iterator(self, shard_id: str, position: str, timestamp) -> str:
        # DynamoDB Streams has no AT_TIMESTAMP; Lambda refuses it for them.
        kind = "LATEST" if position == "LATEST" else "TRIM_HORIZON"
        return self.client.get_shard_iterator(
            StreamArn=self.arn, ShardId=shard_id, ShardIteratorType=kind
        )["ShardIterator"]

    def read(self, shard_id: str, iterator: str, limit: int):
        response = self.client.get_records(ShardIterator=iterator, Limit=limit)
        records = [self._record(item) for item in response["Records"]]
        return records, response.get("NextShardIterator") or iterator

    def _record(self, item: dict) -> StreamRecord:
        change = dict(item["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        arrival = created.timestamp() if isinstance(created, datetime) else time.time()
        change["ApproximateCreationDateTime"] = int(arrival)
        event_record = {
            "eventID": item["eventID"],
            "eventName": item["eventName"],
            "eventVersion": item.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": change,
            "eventSourceARN": self.arn,
        }
        return StreamRecord(change["SequenceNumber"], arrival, event_record)


def poll_kinesis(context: PollContext) -> None:
    StreamPoller(context, KinesisSource).run()


def poll_dynamodb(context: PollContext) -> None:
    StreamPoller(context, DynamoDBSource).run()


class StreamPoller:
    def __init__(self, context: PollContext, source_class) -> None:
        self.context = context
        self.mapping = context.mapping
        self.function = MappedFunction.from_arn(self.mapping.function_arn)
        self.source = source_class(context, self._role())
        self.deliverer = Deliverer(context.clients.endpoint_url)
        self.shards: list[Shard] = []

    def run(self) -> None:
        while self.context.running():
            if not self.mapping.enabled:
                self.context.wait(POLL_INTERVAL_S)
                continue
            try:
                if not self.shards:
                    self._open_shards()
                # every shard takes its step, so no shard waits behind a busy one
                steps = [self._step(shard) for shard in self.shards]
                busy = any(steps)
            except (ClientError, BotoCoreError) as exc:
                logger.info("stream mapping %s: %s", self.mapping.uuid, exc)
                busy = False
            if not busy:
                self.context.wait(self._idle_wait())

    def _open_shards(self) -> None:
        position = self.mapping.starting_position or "TRIM_HORIZON"
        timestamp = self.mapping.starting_position_timestamp
        for shard_id in self.source.shard_ids():
            iterator = self.source.iterator(shard_id, position, timestamp)
            self.shards.append(Shard(shard_id, iterator))

    def _idle_wait(self) -> float:
        now = time.monotonic()
        waits = [POLL_INTERVAL_S]
        for shard in self.shards:
            if shard.batches:
                waits.append(shard.batches[0].not_before - now)
        return max(min(waits), 0.01)

    def _step(self, shard: Shard) -> bool:
        """One move on a shard: read, form a batch, or attempt its first batch. True when
        something happened, so the loop goes on without waiting."""
        if shard.batches:
            batch = shard.batches[0]
            if batch.not_before > time.monotonic():
                return False
            self._attempt(shard, batch)
            return True
        size = int(self.mapping.batch_size)
        read = False
        if len(shard.buffered) < size:
            records, shard.iterator = self.source.read(
                shard.shard_id, shard.iterator, min(size - len(shard.buffered), READ_LIMIT)
            )
            if records:
                read = True
                if not shard.buffered:
                    shard.first_buffered_at = time.monotonic()
                shard.buffered.extend(records)
        if not shard.buffered:
            return False
        window = float(self.mapping.max_batch_window or 0)
        full = len(shard.buffered) >= size
        if full or time.monotonic() - shard.first_buffered_at >= window:
            shard.batches.append(Batch(shard.buffered[:size]))
            shard.buffered = shard.buffered[size:]
            shard.first_buffered_at = time.monotonic() if shard.buffered else None
            return True
        return read

    def _attempt(self, shard: Shard, batch: Batch) -> None:
        expired = self._expired_prefix(batch)
        if expired:
            self._discard(shard, Batch(expired, batch.retries, batch.invokes, last=batch.last))
            batch.records = batch.records[len(expired) :]
            if not batch.records:
                shard.batches.popleft()
                return

        event = {"Records": [record.event_record for record in batch.records]}
        age_ms = (time.time() - batch.records[-1].arrival) * 1000
        outcome = self.context.clients.invoke(self.mapping.function_arn, event)
        if not outcome.invoked:  # throttled: try again later without using a retry
            batch.not_before = time.monotonic() + self._backoff(batch.retries + 1)
            return
        # The age of the batch's last record when the function received it.
        metrics.record(
            self.function,
            "IteratorAge",
            max(round(age_ms), 0),
            "Milliseconds",
            invoked_arn=self.mapping.function_arn,
        )
        batch.invokes += 1
        batch.last = outcome

        remaining = self._unprocessed(batch, outcome)
        if not remaining:
            shard.batches.popleft()
            return
        batch.records = remaining
        bisect = bool(self.mapping.bisect_on_error) and outcome.function_error
        if bisect and len(remaining) > 1:
            middle = len(remaining) // 2
            halves = [remaining[:middle], remaining[middle:]]
            shard.batches.popleft()
            for half in reversed(halves):
                shard.batches.appendleft(Batch(half, batch.retries, batch.invokes, last=outcome))
            return
        batch.retries += 1
        limit = self.mapping.max_retry_attempts
        if limit is not None and int(limit) >= 0 and batch.retries > int(limit):
            shard.batches.popleft()
            self._discard(shard, batch, "RetryAttemptsExhausted")
            return
        batch.not_before = time.monotonic() + self._backoff(batch.retries)

    def _unprocessed(self, batch: Batch, outcome: Outcome) -> list[StreamRecord]:
        """The records to retry after an invoke: none on success, all on a function error,
        and from the lowest reported sequence number with ReportBatchItemFailures."""
        if outcome.function_error:
            return batch.records
        if "ReportBatchItemFailures" not in (self.mapping.function_response_types or []):
            return []
        answer = outcome.parsed_payload()
        if not isinstance(answer, dict) or answer.get("batchItemFailures") is None:
            return []
        failures = answer["batchItemFailures"]
        if not isinstance(failures, list):
            return batch.records
        positions = {record.sequence_number: index for index, record in enumerate(batch.records)}
        lowest = None
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in positions:
                return batch.records  # a malformed answer fails the whole batch
            index = positions[identifier]
            lowest = index if lowest is None else min(lowest, index)
        return batch.records if lowest is None else batch.records[lowest:]

    def _expired_prefix(self, batch: Batch) -> list[StreamRecord]:
        max_age = self.mapping.max_record_age
        if max_age is None or int(max_age) < 0:
            return []
        limit = int(max_age) * self.context.time_scale
        now = time.time()
        expired = []
        for record in batch.records:
            if now - record.arrival <= limit:
                break
            expired.append(record)
        return expired

    def _backoff(self, retries: int) -> float:
        # Lambda backs off from about a second, doubling, up to a minute; compressed here.
        aws_seconds = min(2.0 ** (retries - 1), 60.0)
        return max(aws_seconds * self.context.time_scale, MIN_RETRY_BACKOFF_S)

    def _discard(self, shard: Shard, batch: Batch, condition: str = "RecordAgeExceeded") -> None:
        destination = ((self.mapping.destination_config or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        if not destination:
            return
        record = failure_record(
            self.mapping.function_arn,
            condition,
            batch,
            self.source.batch_info_key,
            shard.shard_id,
            self.mapping.event_source_arn,
        )
        try:
            self.deliverer.send_record(destination, record, succeeded=False)
        except Exception:
            logger.exception("could not send a stream failure record to %s", destination)

    def _role(self) -> str:
        try:
            awslambda = self.context.clients.get("lambda", self.function.region)
            configuration = awslambda.get_function_configuration(
                FunctionName=self.mapping.function_arn
            )
            return configuration.get("Role", "")
        except (ClientError, BotoCoreError):
            return ""


def failure_record(
    function_arn: str, condition: str, batch: Batch, key: str, shard_id: str, stream_arn: str
) -> dict:
    """Lambda's record of a discarded stream batch: metadata only, never the records."""
    record = {
        "requestContext": {
            "requestId": batch.last.request_id if batch.last else str(uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": batch.invokes,
        }
    }
    if batch.last is not None:
        response = {"statusCode": 200, "executedVersion": batch.last.executed_version}
        if batch.last.function_error:
            response["functionError"] = batch.last.function_error
        record["responseContext"] = response
    record["version"] = "1.0"
    record["timestamp"] = _iso(time.time())
    record[key] = {
        "shardId": shard_id,
        "startSequenceNumber": batch.records[0].sequence_number,
        "endSequenceNumber": batch.records[-1].sequence_number,
        "approximateArrivalOfFirstRecord": _iso(batch.records[0].arrival),
        "approximateArrivalOfLastRecord": _iso(batch.records[-1].arrival),
        "batchSize": len(batch.records),
        "streamArn": stream_arn,
    }
    return record


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
