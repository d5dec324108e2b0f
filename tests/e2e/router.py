"""Routes one port between moto and `cargo lambda watch`.

    python router.py PORT MOTO_URL LAMBDA_URL METER_LOG

moto's Step Functions engine sends every AWS call of a state machine (Lambda
invoke, S3 GetObject, DynamoDB UpdateItem) to http://localhost:$MOTO_PORT.
moto is started with MOTO_PORT pointing here: Lambda invocations
(`POST /2015-03-31/functions/<name or ARN>/invocations`) go to cargo lambda
watch, by function name (the binary name); everything else goes to moto.

cargo lambda watch answers a handler error with HTTP 500 and the error body;
the Lambda Invoke API answers 200 with `X-Amz-Function-Error: Unhandled`, and
that is what Step Functions turns into the error name its Retry and Catch
match. An invocation watch gave up on (its `--timeout`) becomes
`Sandbox.Timedout`, as on AWS; an unreachable emulator a Lambda service error.

Every request that passes is counted in METER_LOG (meter.py): the functions
reach AWS through this port too, so the log holds all the pipeline asks of it.
"""

import http.client
import json
import re
import sys
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from meter import Meter

INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


def function_name(segment: str) -> str:
    """`list-batch`, `arn:aws:lambda:r:a:function:list-batch[:qualifier]` or
    its URL-encoded form -> `list-batch`."""
    name = urllib.parse.unquote(segment)
    if name.startswith("arn:"):
        name = name.split(":")[6]
    return name.split(":")[0]


def forward(url: str, method: str, path: str, body: bytes, headers: dict, timeout: float):
    """One HTTP exchange; returns (status, headers, body)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def lambda_answer(status, body: bytes):
    """Translates cargo lambda watch's answer into the Invoke API's."""
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
    unhandled = {**headers, "X-Amz-Function-Error": "Unhandled"}
    if status == 200:
        return 200, headers, body
    if status == 500:
        try:
            if "errorType" in json.loads(body):
                return 200, unhandled, body
        except ValueError:
            pass
    if status == 408:
        timed_out = {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"}
        return 200, unhandled, json.dumps(timed_out).encode()
    error = "ResourceNotFoundException" if status == 404 else "ServiceException"
    message = {"Type": "User" if status == 404 else "Service", "message": f"lambda emulator: {status}: {body[:500]!r}"}
    return 404 if status == 404 else 500, {**headers, "X-Amzn-ErrorType": error}, json.dumps(message).encode()


class Router(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    moto_url = ""
    lambda_url = ""
    meter = None

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        invoke = INVOKE.match(urllib.parse.urlsplit(self.path).path)
        if invoke and self.command == "POST":
            function = function_name(invoke.group(1))
            self.meter.invoked(function)
            path = f"/2015-03-31/functions/{function}/invocations"
            try:
                status, _, data = forward(self.lambda_url, "POST", path, body, {"Content-Type": "application/json"}, 900)
            except OSError as e:
                status, data = None, str(e).encode()
            return self.reply(*lambda_answer(status, data))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        status, answer_headers, data = self.meter.exchange(self.command, self.path, body, headers)
        kept = {k: v for k, v in answer_headers if k.lower() not in HOP_BY_HOP}
        if self.command == "HEAD":
            kept["Content-Length"] = dict((k.lower(), v) for k, v in answer_headers).get("content-length", "0")
            data = None
        self.reply(status, kept, data)

    def reply(self, status, headers, body):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if body is not None:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


if __name__ == "__main__":
    port, Router.moto_url, Router.lambda_url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    Router.meter = Meter(sys.argv[4], lambda method, path, body, headers: forward(
        Router.moto_url, method, path, body, headers, 120))
    server = ThreadingHTTPServer(("127.0.0.1", port), Router)
    server.daemon_threads = True
    server.serve_forever()
