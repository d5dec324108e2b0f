"""The cost model of one window (docs/cost.md), computed from what
test_cost.py counted on the local AWS (target/cost/window.json).

    python tests/e2e/cost.py            # prints the tables docs/cost.md holds
    python tests/e2e/cost.py --write    # writes them into docs/cost.md

Requests, DynamoDB units and state transitions are counted; Lambda
durations are modelled from the release build's CPU time (CPU_SECONDS) and
the requests each step waits for (LATENCY); prices are AWS's published
on-demand prices (PRICES). A window of 10x the files scales every count that
grows with files (ingest, reads of inputs) and keeps the rest.
"""

import json
import math
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "cost.md"
MEASURED = REPO / "target" / "cost" / "window.json"
BEGIN, END = "<!-- cost:begin -->", "<!-- cost:end -->"

# us-east-1, on-demand, arm64 Lambda, Standard workflows (USD).
PRICES = {
    "lambda_gb_s": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "sfn_transition": 0.025 / 1e3,
    "sfn_express_request": 1.00 / 1e6,
    "s3_put_list": 0.005 / 1e3,
    "s3_get": 0.0004 / 1e3,
    "ddb_wru": 0.625 / 1e6,
    "ddb_rru": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "logs_gb": 0.50,
}
# CPU seconds of the steps on this window's files, release build, one
# thread: `flowmerge compact raw out -j 1` under /usr/bin/time (user+sys),
# on `flowmerge generate raw --minutes 1 --accounts 3500 --enis 1 --flows 1
# --start 2026-11-01T06:00Z` (the test's window), median of five runs.
CPU_SECONDS = {"merge": 0.16}
# Seconds a step waits per request it makes: S3 and DynamoDB from a Lambda
# in the same region. partial-merge fetches FETCH_CONCURRENCY objects at once.
LATENCY = {"s3": 0.030, "dynamodb": 0.008}
FETCH_CONCURRENCY = 16
# Bytes logged per ingested file and per step, JSON format on Lambda.
LOG_BYTES = {"per_file": 350, "per_invocation": 1200}
S3_PUT_LIST = {"PutObject", "ListObjects", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
               "CopyObject"}
S3_FREE = {"DeleteObject", "DeleteObjects"}


def execution_transitions(aws, window: str) -> dict:
    """State transitions of the window's execution and of its Map's child
    executions, from their histories."""
    from truth import stamp
    sfn = aws.client("stepfunctions")
    ours = [e for e in aws.executions() if e["name"].startswith(stamp(window))]
    entered = 0
    for execution in ours:
        history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)
        entered += sum(1 for e in history["events"] if e["type"].endswith("StateEntered"))
    return {"parent": entered, "executions": len(ours)}


def requests(counted: dict, prefix: str) -> dict:
    return {k.split(":", 1)[1]: v for k, v in counted["requests"].items() if k.startswith(prefix)}


def model(measured: dict, scale: int = 1) -> list:
    """(item, quantity, unit, dollars) rows of one window; `scale` multiplies
    the files (and with them every count that follows files)."""
    files = measured["files"] * scale
    ingest, run = measured["ingest"], measured["run"]
    batches = measured["ingest_batches"] * scale
    invoked = requests(run, "lambda:")
    groups = invoked.get("partial-merge", 0)
    s3 = requests(run, "s3:")
    gets = s3.get("GetObject", 0) * scale
    puts = sum(v for k, v in s3.items() if k in S3_PUT_LIST)
    ddb_ingest_calls = sum(requests(ingest, "dynamodb:").values()) * scale
    ddb_run_calls = sum(requests(run, "dynamodb:").values())

    ingest_s = batches * 0.020 + ddb_ingest_calls * LATENCY["dynamodb"]
    list_s = 0.050 + ddb_run_calls * LATENCY["dynamodb"] + 2 * LATENCY["s3"]
    merge_s = CPU_SECONDS["merge"] * scale + gets * LATENCY["s3"] / FETCH_CONCURRENCY
    combine_s = 0.100 + puts * LATENCY["s3"]
    # Each function's memory (MB), as the synthesised template deploys it.
    mb = measured["memory"]
    gb_s = (ingest_s * mb["ingest"] + list_s * mb["list-batch"] + merge_s * mb["partial-merge"]
            + combine_s * mb["combine-commit"] + 0.100 * mb["scheduler"]) / 1024
    invocations = batches + 1 + 1 + groups + 1
    sqs = files + 2 * batches * math.ceil(min(files / batches, 100) / 10)
    logs = (files * LOG_BYTES["per_file"] + invocations * LOG_BYTES["per_invocation"]) / 1e9
    # Table and `due` index writes alike.
    wru = (ingest["wru"] + ingest["index_wru"]) * scale + run["wru"] + run["index_wru"]
    rru = ingest["rru"] * scale + run["rru"]
    p = PRICES
    return [
        ("DynamoDB write units", wru, "WRU", wru * p["ddb_wru"]),
        ("DynamoDB read units", rru, "RRU", rru * p["ddb_rru"]),
        ("Lambda compute", gb_s, "GB-s", gb_s * p["lambda_gb_s"]),
        ("Lambda invocations", invocations, "requests", invocations * p["lambda_request"]),
        ("Step Functions transitions", measured["transitions"]["parent"], "transitions",
         measured["transitions"]["parent"] * p["sfn_transition"]),
        ("Map children (Express)", groups, "requests", groups * p["sfn_express_request"]),
        ("S3 GET", gets, "requests", gets * p["s3_get"]),
        ("S3 PUT/LIST", puts, "requests", puts * p["s3_put_list"]),
        ("SQS", sqs, "requests", sqs * p["sqs_request"]),
        ("CloudWatch Logs", logs, "GB", logs * p["logs_gb"]),
    ]


def render(measured: dict) -> str:
    one, ten = model(measured), model(measured, 10)
    lines = [f"| item | {measured['files']} files | | 10× ({measured['files'] * 10} files) | |",
             "|---|---:|---:|---:|---:|"]
    for (name, q1, unit, d1), (_, q10, _, d10) in zip(one, ten):
        lines.append(f"| {name} | {fmt(q1)} {unit} | ${d1:.6f} | {fmt(q10)} {unit} | ${d10:.6f} |")
    total1, total10 = sum(r[3] for r in one), sum(r[3] for r in ten)
    lines.append(f"| **total per window** | | **${total1:.4f}** | | **${total10:.4f}** |")
    counted = {k: v for part in ("ingest", "run") for k, v in measured[part]["requests"].items()
               if not k.startswith("unknown")}
    lines += ["", "Requests counted on the local AWS (ingest and run of the window):", "",
              "| service:operation | requests |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(counted.items())]
    lines += ["", f"DynamoDB units counted: ingest {fmt(measured['ingest']['wru'])} + "
              f"{fmt(measured['ingest']['index_wru'])} (index) WRU / "
              f"{fmt(measured['ingest']['rru'])} RRU over {measured['ingest_batches']} batches, run "
              f"{fmt(measured['run']['wru'])} WRU / {fmt(measured['run']['rru'])} RRU."]
    return "\n".join(lines)


def fmt(x) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.3g}"


def total(measured: dict, scale: int = 1) -> float:
    return sum(row[3] for row in model(measured, scale))


def documented() -> str:
    text = DOC.read_text()
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip()


def numbers(text: str) -> list:
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.?\d*", text)]


def check_document(measured: dict, tolerance: float = 0.15):
    """docs/cost.md's tables are those of `measured`, each number within
    `tolerance` (batching on the local AWS varies a little run to run)."""
    doc, now = numbers(documented()), numbers(render(measured))
    assert len(doc) == len(now), "docs/cost.md's tables have other rows: run tests/e2e/cost.py --write"
    for d, n in zip(doc, now):
        assert abs(d - n) <= tolerance * max(abs(n), 1), (
            f"docs/cost.md says {d}, measured {n}: run tests/e2e/cost.py --write")


if __name__ == "__main__":
    measured = json.loads(MEASURED.read_text())
    tables = render(measured)
    if "--write" in sys.argv:
        text = DOC.read_text()
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        DOC.write_text(text[:start] + "\n" + tables + "\n" + text[end:])
    print(tables)
