from .audit import AuditEvent
from .environment import Environment
from .function import Function, InventorySync, PayloadTemplate
from .invocation import Invocation
from .queue import QueueLease, WatchedQueue
from .record import ExecutionRecord
from .triage import FailureGroup, GroupActivity, ReplayBatch

__all__ = [
    "AuditEvent",
    "Environment",
    "ExecutionRecord",
    "FailureGroup",
    "Function",
    "GroupActivity",
    "Invocation",
    "InventorySync",
    "PayloadTemplate",
    "QueueLease",
    "ReplayBatch",
    "WatchedQueue",
]
