from .audit import AuditEvent
from .deploy import Deploy
from .environment import Environment
from .event import FailedEvent
from .function import Function, InventorySync, PayloadTemplate
from .invocation import Invocation
from .metrics import FunctionMetrics
from .queue import QueueLease, WatchedQueue
from .record import ExecutionRecord
from .redaction import RedactionPass
from .triage import FailureGroup, GroupActivity, ReplayBatch

__all__ = [
    "AuditEvent",
    "Deploy",
    "Environment",
    "ExecutionRecord",
    "FailedEvent",
    "FailureGroup",
    "Function",
    "FunctionMetrics",
    "GroupActivity",
    "Invocation",
    "InventorySync",
    "PayloadTemplate",
    "QueueLease",
    "RedactionPass",
    "ReplayBatch",
    "WatchedQueue",
]
