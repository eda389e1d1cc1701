"""Runs the sandbox in the foreground: moto's threaded server with our runner installed."""

import io
import logging
import signal
import socket
import sys
import threading
import time

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from sandbox import event_sources, lambda_runner, paging
from sandbox.async_queue import AsyncPolicy
from sandbox.fast_invoke import FastInvoke


def local_endpoint(host: str, port: int) -> str:
    # Handlers and our own deliveries call back here; 0.0.0.0 is not an address to call.
    reachable = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    return f"http://{reachable}:{port}"


def install_patches(endpoint_url: str, retry_delays=(1.0, 2.0)) -> None:
    lambda_runner.install(endpoint_url, tuple(retry_delays))
    event_sources.install()
    paging.install()
    try:
        from sandbox import sqs_fast
    except ImportError:
        return  # the fast SQS path is optional
    sqs_fast.install()


class DelayedAnswers:
    """Answers every request `latency_ms` late: a stand-in for AWS across a network or a region,
    so that a benchmark is bound by AWS's latency rather than by this machine's cores. The
    server is threaded, so a delayed answer holds only its own request."""

    def __init__(self, app, latency_ms: float):
        self.app = app
        self.latency_s = latency_ms / 1000.0

    def __call__(self, environ, start_response):
        time.sleep(self.latency_s)
        return self.app(environ, start_response)


class KeepAliveRequestHandler(MotoRequestHandler):
    """Keeps HTTP/1.1 connections open between requests, as AWS's endpoints do. werkzeug's
    development server closes every one (so each boto3 call paid for a new connection and a
    new server thread), because it cannot tell where an unread request body ends: after each
    response it reads whatever the socket still holds. Here the body is read in full before
    the application runs, and that clean-up then reads from an empty stream instead of the
    socket, so the next request stays where the connection expects it. Chunked request bodies
    keep werkzeug's own handling, and its closing."""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: on a kept connection, Nagle's algorithm
        # would hold the body back until the client's delayed acknowledgement (40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket_reader = self.rfile
        self._body_read = False

    def handle_one_request(self) -> None:
        self.rfile = self._socket_reader
        self._body_read = False
        try:
            super().handle_one_request()
        finally:
            self.rfile = self._socket_reader

    def make_environ(self):
        environ = super().make_environ()
        if "chunked" not in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower():
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = self._socket_reader.read(length) if length > 0 else b""
            environ["wsgi.input"] = io.BytesIO(body)
            self.rfile = io.BytesIO()  # what werkzeug's clean-up reads once it has answered
            self._body_read = True
        return environ

    def send_header(self, keyword, value) -> None:
        if self._body_read and keyword.lower() == "connection" and value.lower() == "close":
            return
        super().send_header(keyword, value)


def run(
    host: str = "127.0.0.1",
    port: int = 4566,
    retry_delays=(1.0, 2.0),
    seed: bool = True,
    on_seeded=None,
    latency_ms: float = 0.0,
    enforce_iam: bool = False,
    scale: int = 0,
    aws_quotas: bool = False,
):
    """Serves until SIGINT or SIGTERM. Prints one line starting with "ready" once it answers.
    `on_seeded(result)` runs after seeding (the management command registers the queues).
    `latency_ms` delays every answer (see DelayedAnswers); `enforce_iam` checks every request
    against the IAM policies of its principal (see sandbox/iam.py); `scale` adds N×10 functions
    and their resources after the sample ones (sandbox/seed_scale.py); `aws_quotas` (implied by
    `scale`) refuses control-plane calls past AWS's request quotas once seeded
    (sandbox/quotas.py)."""
    endpoint_url = local_endpoint(host, port)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise
    install_patches(endpoint_url, retry_delays)
    # What moto's ThreadedMotoServer does, but binding here so a taken port fails at once.
    app = FastInvoke(DomainDispatcherApplication(create_backend_app))
    quotas = None
    if aws_quotas or scale:
        from sandbox.quotas import RequestQuotas

        app = quotas = RequestQuotas(app)
    if enforce_iam:
        from sandbox.iam import EnforceIam

        app = EnforceIam(app)  # before the fast paths, so that nothing answers without it
    else:
        from sandbox.iam import AnswerSimulations

        app = AnswerSimulations(app)
    if latency_ms > 0:
        app = DelayedAnswers(app, latency_ms)
    server = make_server(host, port, app, threaded=True, request_handler=KeepAliveRequestHandler)
    serving = threading.Thread(target=server.serve_forever, name="sandbox-http", daemon=True)
    serving.start()
    # Lambda's pollers for event source mappings, on the same compressed time as async retries.
    pollers = event_sources.Pollers(endpoint_url, AsyncPolicy(tuple(retry_delays)).time_scale)
    pollers.start()

    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = ""
        if seed:
            from sandbox.seed import seed as seed_sample_resources

            result = seed_sample_resources(endpoint_url)
            summary = (
                f" seeded {len(result['functions'])} functions, {len(result['queues'])} queues"
            )
            if scale:
                from sandbox.seed_scale import seed_scale

                fleet = seed_scale(endpoint_url, scale)
                result["functions"] += fleet["functions"]
                result["queues"] += fleet["queues"]
                summary = (
                    f" seeded {len(result['functions'])} functions, {len(result['queues'])} "
                    f"queues, {fleet['mappings']} more mappings"
                )
            if on_seeded is not None:
                on_seeded(result)
        if quotas is not None:
            quotas.start()
        print(f"ready {endpoint_url}{summary}", flush=True)
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        pollers.stop()
        server.shutdown()
        serving.join(timeout=5)
        lambda_runner.uninstall()
    return 0


def parse_retry_delays(text: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        message = f"--retry-delays must be seconds separated by commas, not {text!r}"
        raise ValueError(message) from None
    if not delays or any(delay < 0 for delay in delays):
        raise ValueError(f"--retry-delays needs one or more non-negative numbers, not {text!r}")
    return delays


def parse_latency_ms(text: str) -> float:
    try:
        latency = float(text)
    except ValueError:
        raise ValueError(f"--latency-ms must be a number of milliseconds, not {text!r}") from None
    if not 0 <= latency <= 60_000:
        raise ValueError(f"--latency-ms must be between 0 and 60000, not {text!r}")
    return latency


if __name__ == "__main__":
    sys.exit(run())
