from .audit import AuditEvent
from .environment import Environment
from .function import Function, InventorySync, PayloadTemplate
from .invocation import Invocation
from .queue import WatchedQueue
from .record import ExecutionRecord

__all__ = [
    "AuditEvent",
    "Environment",
    "ExecutionRecord",
    "Function",
    "Invocation",
    "InventorySync",
    "PayloadTemplate",
    "WatchedQueue",
]
