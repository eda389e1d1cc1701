"""Lambda's Invoke API answered before moto's dispatch.

moto's server spends 3-4 ms of its own on every request (Flask, its URL maps, its response
layer) before our runner sees it; a warm Invoke is otherwise under a millisecond of work. This
WSGI layer recognises ``POST /2015-03-31/functions/NAME/invocations``, finds the function in
moto's backend as moto would (the account from the access key, the region from the
signature), and answers through the same ``moto_fixes.invoke_api``. Anything it does not
expect goes on to moto untouched, its body restored.
"""

import io
import os
import re
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

from moto.awslambda.models import lambda_backends
from moto.core.exceptions import ServiceException
from moto.iam.models import get_account_id_from
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import HTTPException

from sandbox.moto_fixes import invoke_api

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
CREDENTIAL = re.compile(r"Credential=(?P<key>[^/]+)/\d{8}/(?P<region>[^/]+)/")
DEFAULT_REGION = "us-east-1"


class FastInvoke:
    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        match = INVOKE_PATH.match(environ.get("PATH_INFO") or "")
        if environ.get("REQUEST_METHOD") != "POST" or match is None:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)  # moto can still read it
        headers = EnvironHeaders(environ)
        backend = _backend(headers)
        if backend is None:
            return self.app(environ, start_response)
        qualifier = parse_qs(environ.get("QUERY_STRING") or "").get("Qualifier", [None])[0]
        try:
            status, response_headers, payload = invoke_api(
                backend, unquote(match["name"]), qualifier, headers, raw
            )
        except (ServiceException, HTTPException) as error:
            return _error(error, start_response)
        start_response(_status_line(status), list(response_headers.items()))
        return [payload]


def _backend(headers):
    """moto's Lambda backend for this request's account and region, found as moto finds it."""
    authorization = headers.get("Authorization") or ""
    found = CREDENTIAL.search(authorization)
    if found is None:
        return None
    account = (
        os.environ.get("MOTO_ACCOUNT_ID")
        or headers.get("x-moto-account-id")
        or get_account_id_from(found["key"])
    )
    return lambda_backends[account][found["region"] or DEFAULT_REGION]


def _error(error, start_response):
    status = getattr(error, "code", 500) or 500
    headers = list(error.get_headers()) if hasattr(error, "get_headers") else []
    body = error.get_body() if hasattr(error, "get_body") else str(error)
    payload = body.encode("utf-8") if isinstance(body, str) else body
    headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    headers.append(("Content-Length", str(len(payload))))
    start_response(_status_line(status), headers)
    return [payload]


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"
