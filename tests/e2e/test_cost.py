"""What one window costs, counted: a window of about 700 files (in an hour
of its own, as every scenario) is delivered through S3 events, ingested in
the event source mapping's batches and compacted, and every request the
functions and the state machine make is counted by the router (meter.py).
The counts go to target/cost/window.json, the input of docs/cost.md's model
(tests/e2e/cost.py), and the document is held to them."""

import json
import time

from conftest import deliver, expected_totals, generate_into, ledger, read_totals
from cost import check_document, execution_transitions
from local_aws import REPO
from meter import read_log, totals

# DynamoDB write units that ingest used per file when each file was its own
# transaction of key guard, file and window (measured by this test on that
# design: 4,928 units for 704 files).
PER_FILE_WRU_BEFORE = 7.0


def test_a_window_of_700_files(aws, tmp_path):
    # The deployed group size: one partial merge per ~32 MiB, as on AWS.
    aws.lambdas(small_groups=False)
    try:
        dataset = generate_into(tmp_path, "2026-11-02T06:00Z", accounts=3500, enis=1, flows=1)
        deliver(aws, dataset)
        started = time.time()
        ingested = aws.ingest_pending()
        ran = time.time()
        aws.schedule()
        aws.settle()
    finally:
        aws.lambdas()
    (window,) = dataset.windows
    assert ledger(aws)[window]["state"] == "committed"
    assert read_totals(aws, [window], tmp_path / "out") == expected_totals(dataset)

    lines = read_log(aws.meter_log, since=started)
    measured = {
        "files": len(dataset.files()),
        "ingest_batches": ingested["batches"],
        "ingest": totals(line for line in lines if line["t"] < ran),
        "run": totals(line for line in lines if line["t"] >= ran),
        "transitions": execution_transitions(aws, window),
        "memory": aws.memory,
    }
    out = REPO / "target" / "cost"
    out.mkdir(parents=True, exist_ok=True)
    (out / "window.json").write_text(json.dumps(measured, indent=2) + "\n")

    per_file = measured["ingest"]["wru"] / measured["files"]
    assert per_file <= 0.10 * PER_FILE_WRU_BEFORE, measured["ingest"]
    check_document(measured)
