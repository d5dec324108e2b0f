"""Counts what the pipeline asks of AWS, as AWS bills it: router.py passes
every request of the functions and of the state machine through `Meter`,
which appends one JSON line per request to a log (service, operation, and
for DynamoDB the read and write request units it consumes).

DynamoDB's units follow its published rules, from the items themselves:
a write costs one unit per started KiB of the larger of the item before and
after it (two in a transaction), a refused conditional write too, and as
much again for the `due` index when the item is in it before or after; a strongly
consistent read one unit per started 4 KiB (half that if eventually
consistent), summed over a query's page before rounding. The sizes before
and after a write are read from moto around it, with writes serialised, so
racing writers cannot blur them. moto's own ConsumedCapacity is a constant
and is not used.
"""

import json
import math
import re
import threading
import time
import urllib.parse
from decimal import Decimal

SCOPE = re.compile(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/")
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


# ---- DynamoDB item sizes and units ------------------------------------------------------


def number_size(text: str) -> int:
    """Bytes of a number: about one per two significant digits, plus one."""
    digits = str(Decimal(text).normalize()).lstrip("-").replace(".", "")
    digits = digits.split("E")[0].strip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def value_size(value: dict) -> int:
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return number_size(v)
    if kind == "B":
        return len(v) * 3 // 4  # base64 on the wire
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(value_size({kind[0]: x}) for x in v)
    if kind == "NS":
        return sum(number_size(x) for x in v)
    if kind == "L":
        return 3 + sum(1 + value_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(x) for k, x in v.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict | None) -> int:
    """Bytes of an item, as DynamoDB counts them: names plus values."""
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def write_units(before: int, after: int) -> int:
    return max(1, math.ceil(max(before, after) / 1024))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return units if consistent else units / 2


def index_units(before: dict | None, after: dict | None) -> int:
    """Write units of the sparse `due` index (all attributes projected)."""
    held = [item for item in (before, after) if item and "due_pk" in item]
    return write_units(*(item_size(i) for i in (before, after))) if held else 0


def item_key(item: dict) -> dict:
    return {name: item[name] for name in ("pk", "sk") if name in item}


def write_targets(op: str, body: dict) -> list:
    """(table, key, factor) of every item a write touches."""
    if op in ("PutItem", "UpdateItem", "DeleteItem"):
        key = body.get("Key") or item_key(body.get("Item", {}))
        return [(body["TableName"], key, 1)]
    if op == "TransactWriteItems":
        targets = []
        for entry in body["TransactItems"]:
            (_, request), = entry.items()
            key = request.get("Key") or item_key(request.get("Item", {}))
            targets.append((request["TableName"], key, 2))
        return targets
    targets = []
    for table, requests in body["RequestItems"].items():
        for request in requests:
            (_, inner), = request.items()
            targets.append((table, inner.get("Key") or item_key(inner["Item"]), 1))
    return targets


def read_cost(op: str, body: dict, answer: dict) -> float:
    """Read units of a read, from what it returned."""
    consistent = bool(body.get("ConsistentRead")) and "IndexName" not in body
    if op == "GetItem":
        return read_units(item_size(answer.get("Item")), consistent)
    if op in ("Query", "Scan"):
        return read_units(sum(item_size(i) for i in answer.get("Items", [])), consistent)
    if op == "BatchGetItem":
        total = 0.0
        for table, found in answer.get("Responses", {}).items():
            strong = bool(body["RequestItems"][table].get("ConsistentRead"))
            total += sum(read_units(item_size(i), strong) for i in found)
        return total
    if op == "TransactGetItems":
        return sum(2 * read_units(item_size(r.get("Item")), True) for r in answer.get("Responses", []))
    return 0.0


# ---- what a request is ----------------------------------------------------------------------


def header(headers: dict, name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def service_of(headers) -> str:
    match = SCOPE.search(header(headers, "authorization"))
    return match.group(1) if match else "unknown"


def s3_operation(method: str, path: str) -> str:
    parts = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    has_key = parts.path.strip("/").count("/") >= 1
    if method == "GET":
        return "GetObject" if has_key else "ListObjects"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "PUT":
        return "UploadPart" if "partNumber" in query else "PutObject"
    if method == "POST":
        if "delete" in query:
            return "DeleteObjects"
        return "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    return "DeleteObject" if method == "DELETE" else method


def operation_of(service: str, method: str, path: str, headers) -> str:
    target = header(headers, "x-amz-target")
    if target:
        return target.split(".")[-1]
    if service == "s3":
        return s3_operation(method, path)
    return f"{method} {urllib.parse.urlsplit(path).path}"


class Meter:
    """Appends a line per request to `log_path`; `forward(method, path,
    body, headers)` sends a request to moto and returns (status, headers,
    body)."""

    def __init__(self, log_path: str, forward):
        self.log_path = log_path
        self.forward = forward
        self.lock = threading.Lock()
        self.writes = threading.Lock()

    def record(self, line: dict):
        line["t"] = time.time()
        with self.lock, open(self.log_path, "a") as log:
            log.write(json.dumps(line) + "\n")

    def invoked(self, function: str):
        self.record({"service": "lambda", "op": "Invoke", "function": function})

    def exchange(self, method: str, path: str, body: bytes, headers: dict):
        """Forwards one AWS request to moto and records it."""
        service = service_of(headers)
        op = operation_of(service, method, path, headers)
        line = {"service": service, "op": op}
        if service == "dynamodb" and op in WRITES:
            request = json.loads(body)
            with self.writes:
                targets = write_targets(op, request)
                before = [self.item(table, key, headers) for table, key, _ in targets]
                answer = self.forward(method, path, body, headers)
                after = [self.item(table, key, headers) for table, key, _ in targets]
            line["wru"] = sum(f * write_units(item_size(b), item_size(a)) for (_, _, f), b, a in zip(targets, before, after))
            line["index_wru"] = sum(index_units(b, a) for b, a in zip(before, after))
            line["ok"] = answer[0] == 200
        else:
            answer = self.forward(method, path, body, headers)
            if service == "dynamodb" and answer[0] == 200:
                line["rru"] = read_cost(op, json.loads(body), json.loads(answer[2] or b"{}"))
        self.record(line)
        return answer

    def item(self, table: str, key: dict, headers: dict) -> dict | None:
        request = json.dumps({"TableName": table, "Key": key, "ConsistentRead": True}).encode()
        get = {k: v for k, v in headers.items() if k.lower() not in ("x-amz-target", "content-length")}
        get.update({"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Length": str(len(request))})
        status, _, data = self.forward("POST", "/", request, get)
        return json.loads(data).get("Item") if status == 200 else None


def totals(lines) -> dict:
    """Requests per service and operation, and DynamoDB's units, of log lines."""
    counts: dict = {}
    units = {"wru": 0, "index_wru": 0, "rru": 0.0}
    for line in lines:
        key = f"{line['service']}:{line.get('function') or line['op']}"
        counts[key] = counts.get(key, 0) + 1
        units["wru"] += line.get("wru", 0)
        units["index_wru"] += line.get("index_wru", 0)
        units["rru"] += line.get("rru", 0.0)
    return {"requests": dict(sorted(counts.items())), **units}


def read_log(path, since: float = 0.0) -> list:
    with open(path) as log:
        return [line for line in map(json.loads, log) if line["t"] >= since]
