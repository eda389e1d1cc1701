from .audit import AuditEvent
from .environment import Environment
from .function import Function, PayloadTemplate
from .invocation import Invocation
from .queue import WatchedQueue
from .record import ExecutionRecord

__all__ = [
    "AuditEvent",
    "Environment",
    "ExecutionRecord",
    "Function",
    "Invocation",
    "PayloadTemplate",
    "WatchedQueue",
]
