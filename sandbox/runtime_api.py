"""The Lambda Runtime API of one execution environment, served on 127.0.0.1.

The runtime inside the environment (AWS's ``awslambdaric`` for Python, or a custom
``bootstrap``) loops on ``GET /2018-06-01/runtime/invocation/next``, which blocks until there is
an event, and answers with ``POST .../invocation/{id}/response`` or ``.../error``; a runtime
that cannot start posts ``/runtime/init/error``. What the runtime says is put on ``signals``
for the environment that waits on it: ``("ready",)`` at each ``next``, ``("response", body)``,
``("error", body, error_type)`` and ``("init_error", body, error_type)``.
"""

import json
import queue
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_PREFIX = "/2018-06-01/runtime"
_INVOCATION_PATH = re.compile(rf"^{API_PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")
ACCEPTED = b'{"status":"OK"}'


@dataclass(frozen=True)
class Event:
    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None


class RuntimeApi:
    def __init__(self) -> None:
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.signals: queue.Queue[tuple] = queue.Queue()
        self.current: Event | None = None
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="runtime-api",
            daemon=True,
        )
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        self.events.put(None)  # wakes a runtime blocked on next, which then gets an error
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: RuntimeApi


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the runtime client's libcurl expects
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in one write, but the runtime's own POSTs must not wait for
        # a delayed ACK either.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass  # one line per request would drown the sandbox's own log

    def do_GET(self) -> None:
        if self.path != f"{API_PREFIX}/invocation/next":
            self._answer(404, b'{"errorType":"InvalidRequest"}')
            return
        api = self.server.api
        api.signals.put(("ready",))
        event = api.events.get()
        if event is None:  # the environment is shutting down
            api.events.put(None)
            self._answer(500, b'{"errorType":"Runtime.Shutdown"}')
            return
        api.current = event
        headers = {
            "Lambda-Runtime-Aws-Request-Id": event.request_id,
            "Lambda-Runtime-Deadline-Ms": str(event.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": event.invoked_function_arn,
            "Lambda-Runtime-Trace-Id": event.trace_id,
        }
        if event.client_context:
            headers["Lambda-Runtime-Client-Context"] = event.client_context
        if event.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = event.cognito_identity
        self._answer(200, event.payload, headers)

    def do_POST(self) -> None:
        body = self._read_body()
        api = self.server.api
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type") or ""
        if self.path == f"{API_PREFIX}/init/error":
            api.signals.put(("init_error", body, error_type))
            self._answer(202, ACCEPTED)
            return
        match = _INVOCATION_PATH.match(self.path)
        current = api.current
        if match is None:
            self._answer(404, b'{"errorType":"InvalidRequest"}')
            return
        if current is None or match["id"] != current.request_id:
            message = {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
            self._answer(400, json.dumps(message).encode())
            return
        api.current = None
        if match["kind"] == "response":
            api.signals.put(("response", body))
        else:
            api.signals.put(("error", body, error_type))
        self._answer(202, ACCEPTED)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
        # awslambdaric's C client crashes on an event without a Content-Type.
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
        lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        self.wfile.write(head + body)
        self.wfile.flush()


_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found", 500: "Error"}
