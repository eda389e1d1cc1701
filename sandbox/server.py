"""Runs the sandbox in the foreground: moto's threaded server with our runner installed."""

import logging
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from sandbox import lambda_runner


def local_endpoint(host: str, port: int) -> str:
    # Handlers and our own deliveries call back here; 0.0.0.0 is not an address to call.
    reachable = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    return f"http://{reachable}:{port}"


def install_patches(endpoint_url: str, retry_delays=(1.0, 2.0)) -> None:
    lambda_runner.install(endpoint_url, tuple(retry_delays))
    try:
        from sandbox import sqs_fast
    except ImportError:
        return  # the fast SQS path is optional
    sqs_fast.install()


def run(
    host: str = "127.0.0.1",
    port: int = 4566,
    retry_delays=(1.0, 2.0),
    seed: bool = True,
    on_seeded=None,
):
    """Serves until SIGINT or SIGTERM. Prints one line starting with "ready" once it answers.
    `on_seeded(result)` runs after seeding (the management command registers the queues)."""
    endpoint_url = local_endpoint(host, port)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise
    install_patches(endpoint_url, retry_delays)
    # What moto's ThreadedMotoServer does, but binding here so a taken port fails at once.
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    serving = threading.Thread(target=server.serve_forever, name="sandbox-http", daemon=True)
    serving.start()

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
            if on_seeded is not None:
                on_seeded(result)
        print(f"ready {endpoint_url}{summary}", flush=True)
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
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


if __name__ == "__main__":
    sys.exit(run())
