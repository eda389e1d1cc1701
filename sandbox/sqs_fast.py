"""SQS for the sandbox whose hot path does not depend on queue depth.

moto 5.2.5 keeps a queue as one list and rescans it on every send, receive, delete and count,
reading the clock once per message on the way (draining 10,000 messages took minutes).
`install()` patches moto's SQS classes so that a standard queue keeps, beside its messages, an
index of where each message is:

- `ready`: a heap of visible, undelayed messages keyed by arrival order, so receives return
  messages in the same order moto's list scan would;
- `waiting`: a heap of in-flight and delayed messages keyed by the moment they become visible,
  moved to `ready` lazily at the start of each call;
- `by_handle`: every receipt handle a live message has had, for delete and change-visibility.

Each call reads moto's own clock (`moto.core.utils.unix_time_millis`) once, so tests that move
moto's clock still travel in time. Heap entries carry a generation number instead of being
removed: when a message moves or goes, its old entries simply stop matching.

FIFO queues keep moto's own code: their ordering and group rules live in the list scan, and the
sandbox's FIFO queues stay shallow.
"""

import copy
import heapq
import itertools
import re
import time

from moto.core import utils as moto_utils
from moto.sqs import models as sqs_models
from moto.sqs.exceptions import (
    InvalidParameterValue,
    PurgeQueueInProgress,
    ReceiptHandleIsInvalid,
    SQSException,
)

Queue = sqs_models.Queue
SQSBackend = sqs_models.SQSBackend

# Where a message sits in its queue's index.
READY, DELAYED, IN_FLIGHT = "ready", "delayed", "in_flight"

# moto's limit on a message's total visibility timeout, with its wording.
MAX_TOTAL_VISIBILITY_MS = 43200 * 1000

# A long poll re-checks at least this often (seconds), as moto does, for messages whose
# visibility lapses without a send to wake it.
LONG_POLL_SLICE = 1.0

_ORIGINAL = {}

# The characters SQS accepts in a message body or string attribute; anything else (a lone
# surrogate, most control characters) is refused.
_INVALID_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_RESERVED_ATTRIBUTE_NAME = re.compile(r"^\.|\.$|\.\.|^(aws|amazon)\.", re.IGNORECASE)


class InvalidMessageContents(SQSException):
    def __init__(self, character: str) -> None:
        super().__init__(
            "InvalidMessageContents",
            f"Invalid binary character '#x{ord(character):X}' was found in the message body, "
            "the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | "
            "#xE000 to #xFFFD | #x10000 to #x10FFFF",
        )


def _refuse_invalid(message_body, message_attributes) -> None:
    """Refuses what SQS refuses before anything is stored. moto checks attribute names only
    while answering, after the message is already in the queue, and cannot answer at all for
    a body with a lone surrogate, so the message stayed and broke later receives."""
    found = _INVALID_CHARACTER.search(message_body or "")
    if found:
        raise InvalidMessageContents(found.group())
    for name, value in (message_attributes or {}).items():
        sqs_models.Message.validate_attribute_name(name)
        if _RESERVED_ATTRIBUTE_NAME.search(name):
            raise InvalidParameterValue(
                f"The message attribute name '{name}' is invalid. Attribute names cannot start "
                "or end with a period, contain successive periods, or start with AWS. or Amazon."
            )
        text = value.get("StringValue") if isinstance(value, dict) else None
        if isinstance(text, str) and _INVALID_CHARACTER.search(text):
            raise InvalidParameterValue(
                f"Message attribute '{name}' has a value with invalid characters."
            )


def _now_ms():
    # Looked up through the module on every call so anything that moves moto's clock moves ours.
    return moto_utils.unix_time_millis()


def _is_ready(message, now):
    # moto's Message.visible and not Message.delayed, against one clock reading.
    return now > message.visible_at and now >= message.delayed_until


class QueueIndex:
    """Where each live message of one standard queue is. Guarded by the queue's own lock."""

    def __init__(self):
        self.alive = {}  # message id -> message, in the order moto's list would hold them
        self.by_handle = {}
        self.ready = []  # heap of (arrival, generation, message)
        self.waiting = []  # heap of (due ms, arrival, generation, message)
        self.arrivals = itertools.count()
        self.counts = {READY: 0, DELAYED: 0, IN_FLIGHT: 0}

    def add(self, message, now):
        message._fast_arrival = next(self.arrivals)
        message._fast_where = None
        message._fast_generation = getattr(message, "_fast_generation", 0)
        self.alive[message.id] = message
        for handle in message.all_receipt_handles:
            if handle is not None:
                self.by_handle[handle] = message
        self.place(message, now)

    def place(self, message, now):
        """(Re)file a live message under ready or waiting, per moto's rules at `now`."""
        self._unplace(message)
        generation = message._fast_generation
        if _is_ready(message, now):
            heapq.heappush(self.ready, (message._fast_arrival, generation, message))
            where = READY
        else:
            due = max(message.visible_at, message.delayed_until)
            heapq.heappush(self.waiting, (due, message._fast_arrival, generation, message))
            where = DELAYED if now < message.delayed_until else IN_FLIGHT
        message._fast_where = where
        self.counts[where] += 1

    def remove(self, message):
        self._unplace(message)
        del self.alive[message.id]
        for handle in message.all_receipt_handles:
            self.by_handle.pop(handle, None)
        # A deleted in-flight message leaves an entry behind until its visibility timeout is
        # up, which can be hours away: sweep them once they outnumber the live ones.
        if len(self.waiting) > 2 * (self.counts[DELAYED] + self.counts[IN_FLIGHT]) + 1000:
            self.waiting = [
                entry for entry in self.waiting if entry[2] == entry[3]._fast_generation
            ]
            heapq.heapify(self.waiting)

    def clear(self):
        for message in self.alive.values():
            self._unplace(message)
        self.__init__()

    def _unplace(self, message):
        # Bumping the generation orphans the message's heap entries.
        message._fast_generation += 1
        if message._fast_where is not None:
            self.counts[message._fast_where] -= 1
            message._fast_where = None

    def refresh(self, queue, now):
        """Move messages whose visibility timeout or delay has run out to `ready`."""
        not_yet = []
        while self.waiting and self.waiting[0][0] <= now:
            entry = heapq.heappop(self.waiting)
            message = entry[3]
            if entry[2] != message._fast_generation:
                continue
            if _is_ready(message, now):
                # moto drops a message from pending once it is seen visible again.
                queue.pending_messages.discard(message)
                self.place(message, now)
            else:
                not_yet.append(entry)  # visible_at == now: moto wants now > visible_at
        for entry in not_yet:
            heapq.heappush(self.waiting, entry)

    def pop_ready(self):
        while self.ready:
            _, generation, message = heapq.heappop(self.ready)
            if generation == message._fast_generation:
                self._unplace(message)
                return message
        return None

    def ready_messages(self):
        live = [entry for entry in self.ready if entry[1] == entry[2]._fast_generation]
        return [entry[2] for entry in sorted(live)]

    def seconds_until_next_due(self, now):
        if not self.waiting:
            return None
        return max(0.0, (self.waiting[0][0] - now) / 1000)


def _index(queue):
    """The queue's index, built on first use; None for FIFO queues (moto's path)."""
    index = queue.__dict__.get("_fast_index")
    if index is not None or queue.fifo_queue:
        return index
    with queue._messages_lock:
        index = queue.__dict__.get("_fast_index")
        if index is None:
            # Adopt what moto already holds: queues may predate install().
            index = QueueIndex()
            now = _now_ms()
            for message in queue.__dict__.pop("_messages", []):
                index.add(message, now)
            queue.__dict__["_fast_index"] = index
    return index


# -- Queue patches --------------------------------------------------------------------------


def _get_messages_list(queue):
    index = queue.__dict__.get("_fast_index")
    if index is None:
        return queue.__dict__["_messages"]
    # A snapshot: only moto's FIFO path writes to this list, and it never sees a fast queue.
    return list(index.alive.values())


def _set_messages_list(queue, messages):
    index = queue.__dict__.get("_fast_index")
    if index is None:
        queue.__dict__["_messages"] = messages
        return
    with queue._messages_lock:
        index.clear()
        now = _now_ms()
        for message in messages:
            index.add(message, now)


def _queue_messages(queue):
    index = _index(queue)
    if index is None:
        return _ORIGINAL["messages"].fget(queue)
    with queue._messages_lock:
        index.refresh(queue, _now_ms())
        return index.ready_messages()


def _count_property(name, where):
    original = getattr(Queue, name)

    def count(queue):
        index = _index(queue)
        if index is None:
            return original.fget(queue)
        with queue._messages_lock:
            index.refresh(queue, _now_ms())
            return index.counts[where]

    _ORIGINAL[name] = original
    return property(count)


def _add_message(queue, message):
    index = _index(queue)
    if index is None:
        return _ORIGINAL["add_message"](queue, message)
    with queue._messages_lock:
        index.add(message, _now_ms())
        queue._messages_lock.notify_all()
    _feed_event_source_mappings(queue)


def _feed_event_source_mappings(queue):
    # The tail of moto's Queue.add_message, unchanged: Lambda event source mappings poll the
    # queue on every send.
    for arn, esm in queue.lambda_event_source_mappings.items():
        if not esm.enabled:
            continue
        backend = sqs_models.sqs_backends[queue.account_id][queue.region]
        messages = backend.receive_message(
            queue.name,
            esm.batch_size,
            queue.receive_message_wait_time_seconds,
            queue.visibility_timeout,
        )

        from moto.awslambda.utils import get_backend

        result = get_backend(queue.account_id, queue.region).send_sqs_batch(
            arn, messages, queue.queue_arn
        )
        if result:
            for m in messages:
                backend.delete_message(queue.name, m.receipt_handle)
        else:
            for m in messages:
                backend.change_message_visibility(
                    queue.name, m.receipt_handle, visibility_timeout=0
                )


def _delete_message(queue, receipt_handle):
    index = _index(queue)
    if index is None:
        return _ORIGINAL["delete_message"](queue, receipt_handle)
    with queue._messages_lock:
        if receipt_handle in queue.deleted_messages:
            return  # moto lets a message be deleted twice
        message = index.by_handle.get(receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid()
        index.remove(message)
        queue.pending_messages.discard(message)
        queue.deleted_messages.update(message.all_receipt_handles)


def _wait_for_messages(queue, timeout):
    index = _index(queue)
    if index is None:
        return _ORIGINAL["wait_for_messages"](queue, timeout)

    def any_ready():
        index.refresh(queue, _now_ms())
        return index.counts[READY]

    with queue._messages_lock:
        queue._messages_lock.wait_for(any_ready, timeout=timeout)


# -- Backend patches ------------------------------------------------------------------------


def _send_message(
    backend,
    queue_name,
    message_body,
    message_attributes=None,
    delay_seconds=None,
    deduplication_id=None,
    group_id=None,
    system_attributes=None,
    validate_group_id=True,
):
    queue = backend.get_queue(queue_name)
    _refuse_invalid(message_body, message_attributes)
    if _index(queue) is None:
        return _ORIGINAL["send_message"](
            backend,
            queue_name,
            message_body,
            message_attributes=message_attributes,
            delay_seconds=delay_seconds,
            deduplication_id=deduplication_id,
            group_id=group_id,
            system_attributes=system_attributes,
            validate_group_id=validate_group_id,
        )
    # moto's send_message, minus its reads of queue.attributes (which count the whole queue)
    # for ContentBasedDeduplication, an attribute only FIFO queues report.
    backend._validate_message(
        queue,
        message_body=message_body,
        delay_seconds=int(delay_seconds or 0),
        deduplication_id=deduplication_id,
        group_id=group_id,
        validate_group_id=validate_group_id,
    )
    delay = int(delay_seconds) if delay_seconds is not None else queue.delay_seconds

    message = sqs_models.Message(str(sqs_models.random.uuid4()), message_body, system_attributes)
    if deduplication_id is not None:
        message.deduplication_id = deduplication_id
        message.sequence_number = "".join(
            sqs_models.random.choice(sqs_models.string.digits) for _ in range(20)
        )
    if group_id is not None:
        message.group_id = group_id
    if message_attributes:
        message.message_attributes = message_attributes
    if delay > sqs_models.MAXIMUM_MESSAGE_DELAY:
        raise InvalidParameterValue(
            f"Value {delay} for parameter DelaySeconds is invalid. "
            "Reason: DelaySeconds must be >= 0 and <= 900."
        )

    now = _now_ms()
    message.sent_timestamp = int(now)
    if delay:
        message.delayed_until = now + delay * 1000
    queue.add_message(message)
    return message


def _receive_message(
    backend,
    queue_name,
    count,
    wait_seconds_timeout,
    visibility_timeout,
    message_attribute_names=None,
):
    queue = backend.get_queue(queue_name)
    index = _index(queue)
    if index is None:
        return _ORIGINAL["receive_message"](
            backend,
            queue_name,
            count,
            wait_seconds_timeout,
            visibility_timeout,
            message_attribute_names,
        )

    lock = queue._messages_lock
    budget = float(wait_seconds_timeout or 0)
    while True:
        with lock:
            result, to_dead_letter = _take(queue, index, count, visibility_timeout, _now_ms())
            if not result and not to_dead_letter and budget > 0:
                budget -= _wait_for_a_send(queue, index, budget)
                continue
        # Outside our lock: the dead-letter queue takes its own.
        for message in to_dead_letter:
            queue.dead_letter_queue.add_message(message)
        if result or budget <= 0:
            return [_as_received(m, message_attribute_names or []) for m in result]


def _wait_for_a_send(queue, index, budget):
    """Sleep until a send wakes us or a waiting message comes due; returns seconds used."""
    timeout = min(budget, LONG_POLL_SLICE)
    due = index.seconds_until_next_due(_now_ms())
    if due is not None:
        timeout = min(timeout, due + 0.001)
    started = time.monotonic()
    woken = queue._messages_lock.wait(timeout)
    # Under a frozen clock monotonic() stands still too; count a timed-out wait in full so a
    # long poll always ends.
    return max(time.monotonic() - started, 0.0) if woken else timeout


def _take(queue, index, count, visibility_timeout, now):
    """One pass of moto's receive loop: up to `count` ready messages, marked received."""
    index.refresh(queue, now)
    redrive = queue.redrive_policy if queue.dead_letter_queue is not None else None
    max_receives = redrive["maxReceiveCount"] if redrive else None
    retention_ms = int(queue.message_retention_period) * 1000

    taken, to_dead_letter = [], []
    while len(taken) < count:
        message = index.pop_ready()
        if message is None:
            break
        queue.pending_messages.discard(message)
        if max_receives is not None and message.approximate_receive_count >= max_receives:
            index.remove(message)
            to_dead_letter.append(message)
            continue

        queue.pending_messages.add(message)
        _mark_received(index, message, visibility_timeout, now)
        if message.sent_timestamp + retention_ms <= now:
            # As moto: the expired message counts as received but the pass stops here.
            index.place(message, now)
            break
        taken.append(message)

    # Filed only now: with a visibility timeout of 0 a message is ready again at once, and
    # must not come round twice in one receive.
    for message in taken:
        index.place(message, now)
    return taken, to_dead_letter


def _mark_received(index, message, visibility_timeout, now):
    # moto's Message.mark_received against one clock reading.
    if not message.approximate_first_receive_timestamp:
        message.approximate_first_receive_timestamp = int(now)
    message.approximate_receive_count += 1
    if visibility_timeout:
        message.visible_at = now + int(visibility_timeout) * 1000
    message._old_receipt_handles.append(message.receipt_handle)
    message.receipt_handle = sqs_models.generate_receipt_handle()
    index.by_handle[message.receipt_handle] = message


def _as_received(message, message_attribute_names):
    # moto deep-copies each received message; a shallow copy with its own attribute dicts
    # shows the caller the same thing for a fraction of the cost.
    received = copy.copy(message)
    sqs_models._filter_message_attributes(received, message_attribute_names)
    received.message_attributes = {
        name: dict(value) for name, value in received.message_attributes.items()
    }
    return received


def _change_message_visibility(backend, queue_name, receipt_handle, visibility_timeout):
    queue = backend.get_queue(queue_name)
    index = _index(queue)
    if index is None:
        return _ORIGINAL["change_message_visibility"](
            backend, queue_name, receipt_handle, visibility_timeout
        )
    with queue._messages_lock:
        message = index.by_handle.get(receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid
        now = _now_ms()
        visible_at = now + int(visibility_timeout) * 1000
        if visible_at - message.sent_timestamp > MAX_TOTAL_VISIBILITY_MS:
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. "
                "Reason: Total VisibilityTimeout for the message is beyond the limit "
                "[43200 seconds]"
            )
        message.visible_at = visible_at
        if now > message.visible_at:
            queue.pending_messages.discard(message)
        index.place(message, now)


def _purge_queue(backend, queue_name):
    queue = backend.get_queue(queue_name)
    index = _index(queue)
    if index is None:
        return _ORIGINAL["purge_queue"](backend, queue_name)
    now = moto_utils.unix_time()
    if (
        sqs_models.sqs_enforce_strict_queue_purge_behaviour()
        and queue.last_purged_at is not None
        and now - queue.last_purged_at < 60
    ):
        raise PurgeQueueInProgress(queue.name)
    queue.last_purged_at = now
    with queue._messages_lock:
        index.clear()
        queue._pending_messages = set()


def _send_message_batch(backend, queue_name, entries):
    # Every entry is checked before any is stored, as moto does for its own checks.
    for entry in entries.values():
        _refuse_invalid(entry.get("MessageBody"), entry.get("MessageAttributes"))
    return _ORIGINAL["send_message_batch"](backend, queue_name, entries)


def install():
    """Patch moto's SQS models in this process. Calling it again does nothing."""
    if _ORIGINAL:
        return
    for name in ("add_message", "delete_message", "wait_for_messages"):
        _ORIGINAL[name] = getattr(Queue, name)
    _ORIGINAL["messages"] = Queue.messages
    for name in (
        "send_message",
        "send_message_batch",
        "receive_message",
        "change_message_visibility",
        "purge_queue",
    ):
        _ORIGINAL[name] = getattr(SQSBackend, name)

    Queue._messages = property(_get_messages_list, _set_messages_list)
    Queue.messages = property(_queue_messages)
    Queue.approximate_number_of_messages = _count_property("approximate_number_of_messages", READY)
    Queue.approximate_number_of_messages_delayed = _count_property(
        "approximate_number_of_messages_delayed", DELAYED
    )
    Queue.approximate_number_of_messages_not_visible = _count_property(
        "approximate_number_of_messages_not_visible", IN_FLIGHT
    )
    Queue.add_message = _add_message
    Queue.delete_message = _delete_message
    Queue.wait_for_messages = _wait_for_messages

    SQSBackend.send_message = _send_message
    SQSBackend.send_message_batch = _send_message_batch
    SQSBackend.receive_message = _receive_message
    SQSBackend.change_message_visibility = _change_message_visibility
    SQSBackend.purge_queue = _purge_queue
