"""The deployed pipeline as a whole, on a local AWS: S3 event -> SQS -> ingest
-> scheduler -> Step Functions running statemachines/window.asl.json ->
list-batch / partial-merge / combine-commit -> Parquet in S3, ledger in
DynamoDB; and the same when things fail. Each scenario uses its own hour of
generated data (in the past, so every window is due at once), so scenarios do
not see each other's windows.

Assertions read the output back with DuckDB (tests/truth.py) and the ledger
with `flowmerge status --table`.
"""

import json

import duckdb
import pytest

from conftest import (deliver, expected_totals, flowmerge, generate_into, ledger, output_keys, read_totals,
                      run_pipeline, run_with_faults)
from local_aws import OUTPUT_BUCKET, OUTPUT_PREFIX, RAW_BUCKET
from truth import output_rows, per_account, stamp


def executions_of(aws, window):
    return [e for e in aws.executions() if e["name"].startswith(stamp(window))]


def one_output_set(aws, window):
    """All Parquet files of a window come from one run: one input digest."""
    keys = output_keys(aws, window)
    digests = {k.rsplit("/", 1)[1].split("-")[1] for k in keys}
    assert len(digests) == 1, keys
    return keys


def committed_keys(record):
    """Output keys the ledger recorded (relative to the output prefix) as bucket keys."""
    return {OUTPUT_PREFIX + key for key in record["outputs"]}


def no_staging_left(aws, window):
    staging = aws.keys(f"{OUTPUT_PREFIX}_flowmerge/staging/{stamp(window)}/")
    assert staging == {}, staging


@pytest.fixture(scope="module")
def happy(aws, tmp_path_factory):
    """Several windows of multi-account data, delivered and compacted."""
    dataset = generate_into(tmp_path_factory.mktemp("happy"), "2026-11-01T01:00Z", minutes=3, accounts=10)
    deliver(aws, dataset)
    summary = run_pipeline(aws)
    return dataset, summary


def test_happy_path(aws, happy, tmp_path):
    dataset, summary = happy
    assert len(dataset.windows) >= 2
    assert sorted(summary["started"]) == [f"{stamp(w)}-v1" for w in dataset.windows]
    windows = ledger(aws)
    for window in dataset.windows:
        record = windows[window]
        assert (record["state"], record["version"]) == ("committed", 1), record
        assert [e["status"] for e in executions_of(aws, window)] == ["SUCCEEDED"]
        assert committed_keys(record) >= set(one_output_set(aws, window))
        no_staging_left(aws, window)
    assert read_totals(aws, dataset.windows, tmp_path) == expected_totals(dataset)
    # Several account groups per window: the Map ran several partial merges.
    items = aws.client("s3").get_object(
        Bucket=OUTPUT_BUCKET, Key=f"{OUTPUT_PREFIX}_flowmerge/manifests/{stamp(dataset.windows[0])}/v000001.items.json")
    assert len(json.loads(items["Body"].read())) > 1
    # combine-commit published its metrics as embedded metric format.
    log = (aws.workdir / "lambdas.log").read_text()
    assert '"CloudWatchMetrics"' in log and '"WindowsCommitted"' in log


def test_manual_rerun_is_byte_identical(aws, happy, tmp_path):
    dataset, _ = happy
    window = dataset.windows[0]
    before, version = output_keys(aws, window), ledger(aws)[window]["version"]
    result = flowmerge("rerun", "--window", window, env=aws.cli_env())
    name = result.stdout.split()[-1]
    aws.settle()
    assert [e["status"] for e in aws.executions() if e["name"] == name] == ["SUCCEEDED"]
    record = ledger(aws)[window]
    assert (record["state"], record["version"]) == ("committed", version + 1)
    assert output_keys(aws, window) == before, "same keys, same bytes (ETags)"
    assert read_totals(aws, [window], tmp_path) == expected_totals(dataset, windows=[window])


def test_duplicate_delivery_adds_nothing(aws, tmp_path):
    dataset = generate_into(tmp_path, "2026-11-01T02:00Z", minutes=2, seed=7)
    deliver(aws, dataset)
    deliver(aws, dataset)  # the same objects again: every S3 event twice
    counts = aws.ingest_pending()
    assert counts["messages"] == 2 * len(dataset.files()) and counts["failed"] == 0
    aws.schedule()
    aws.settle()
    assert read_totals(aws, dataset.windows, tmp_path / "a") == expected_totals(dataset)
    before = {w: output_keys(aws, w) for w in dataset.windows}

    # Redelivered after the commit: known files, the windows stay committed.
    deliver(aws, dataset)
    aws.ingest_pending()
    assert aws.schedule()["started"] == []
    windows = ledger(aws)
    assert all((windows[w]["state"], windows[w]["version"]) == ("committed", 1) for w in dataset.windows)
    assert {w: output_keys(aws, w) for w in dataset.windows} == before


def test_late_file_makes_the_window_dirty_and_the_scheduler_reruns_it(aws, tmp_path):
    on_time = generate_into(tmp_path, "2026-11-01T03:00Z", seed=11)
    (window,) = on_time.windows
    deliver(aws, on_time)
    run_pipeline(aws)
    old = output_keys(aws, window)
    assert ledger(aws)[window]["state"] == "committed"

    late = generate_into(tmp_path, "2026-11-01T03:00Z", seed=12, accounts=2)
    assert late.windows == [window]
    deliver(aws, late)
    aws.ingest_pending()
    assert ledger(aws)[window]["state"] == "dirty"
    assert aws.schedule()["started"] == [f"{stamp(window)}-v2"]
    aws.settle()
    record = ledger(aws)[window]
    assert (record["state"], record["version"]) == ("committed", 2)
    new = one_output_set(aws, window)
    assert not set(old) & set(new), "the old output is gone"
    assert read_totals(aws, [window], tmp_path / "out") == expected_totals(on_time, late)


def test_transient_fault_is_retried_by_the_state_machine(aws, tmp_path):
    dataset = generate_into(tmp_path, "2026-11-01T04:00Z", seed=21)
    (window,) = dataset.windows
    run_with_faults(aws, dataset, "partial-merge.start=error-once")
    assert [e["status"] for e in executions_of(aws, window)] == ["SUCCEEDED"]
    record = ledger(aws)[window]
    assert (record["state"], record["version"], record["attempts"]) == ("committed", 1, 0), record
    log = (aws.workdir / "lambdas.log").read_text()
    assert "injected failure at partial-merge.start" in log
    assert read_totals(aws, [window], tmp_path / "out") == expected_totals(dataset)


def test_permanent_fault_fails_the_window_and_the_alarm_redrive_reruns_it(aws, tmp_path):
    dataset = generate_into(tmp_path, "2026-11-01T05:00Z", seed=31)
    (window,) = dataset.windows
    run_with_faults(aws, dataset, "partial-merge.start=error")
    (failed,) = executions_of(aws, window)
    assert failed["status"] == "FAILED"
    record = ledger(aws)[window]
    assert record["state"] == "failed" and record["error"], record
    assert output_keys(aws, window) == {}

    summary = aws.redrive()
    assert summary["restarted"] == [f"{stamp(window)}-v2"], summary
    aws.settle()
    record = ledger(aws)[window]
    assert (record["state"], record["version"]) == ("committed", 2), record
    assert read_totals(aws, [window], tmp_path / "out") == expected_totals(dataset)


def test_bad_input_is_quarantined_and_the_rest_committed(aws, tmp_path):
    dataset = generate_into(tmp_path, "2026-11-01T06:00Z", seed=41, bad_lines=7, bad_files=True)
    (window,) = dataset.windows
    deliver(aws, dataset)
    aws.client("s3").put_object(Bucket=RAW_BUCKET, Key="notes/README.txt", Body=b"not a flow log")
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=aws.queue_url, MessageBody="{not json")  # a poison message
    counts = aws.ingest_pending()
    assert counts["failed"] >= 1
    # The poison message moves to the DLQ on the receive after its fifth
    # failure, which the first pass may not have reached yet: keep ingesting.
    dead = []
    for _ in range(10):
        dead = sqs.receive_message(QueueUrl=aws.dlq_url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=1).get("Messages", [])
        if dead:
            break
        aws.ingest_pending()
    assert [m["Body"] for m in dead] == ["{not json"]
    assert aws.schedule()["started"] == [f"{stamp(window)}-v1"]
    aws.settle()

    record = ledger(aws)[window]
    assert record["state"] == "committed"
    assert record["counts"]["bad_lines"] == dataset.truth["bad_lines"] == 7
    assert record["counts"]["bad_files"] == dataset.truth["bad_files"] == 2
    assert record["files"] == len(dataset.files()), "README.txt is not a flow log file"
    errors = aws.keys(f"{OUTPUT_PREFIX}errors/")
    quarantined = {}
    for path in aws.download([k for k in errors if stamp(window) in k], tmp_path / "errors"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            assert entry["errorMessage"] and entry["key"]
            quarantined[entry["errorCode"]] = quarantined.get(entry["errorCode"], 0) + 1
    assert quarantined == {"parse-failed": 7, "unreadable-file": 2}
    assert read_totals(aws, [window], tmp_path / "out") == expected_totals(dataset)


def test_crash_between_steps_leaves_no_lasting_duplicates(aws, tmp_path):
    dataset = generate_into(tmp_path, "2026-11-01T07:00Z", seed=51)
    (window,) = dataset.windows
    # The process dies after writing the output, before committing it.
    run_with_faults(aws, dataset, "combine.before-commit=abort", timeout=20)
    (crashed,) = executions_of(aws, window)
    assert crashed["status"] == "FAILED"
    assert aws.describe(crashed["executionArn"])["error"] == "Sandbox.Timedout"
    assert ledger(aws)[window]["state"] == "failed"

    flowmerge("rerun", "--window", window, env=aws.cli_env())
    aws.settle()
    record = ledger(aws)[window]
    assert record["state"] == "committed", record
    keys = one_output_set(aws, window)
    assert committed_keys(record) >= set(keys)
    no_staging_left(aws, window)
    assert read_totals(aws, [window], tmp_path / "out") == expected_totals(dataset)


def test_backfill_compacts_an_existing_archive(aws, tmp_path):
    dataset = generate_into(tmp_path, "2026-11-01T08:00Z", minutes=2, seed=61)
    deliver(aws, dataset)
    aws.client("sqs").purge_queue(QueueUrl=aws.queue_url)  # there before the pipeline was
    result = flowmerge("backfill", f"s3://{RAW_BUCKET}/", "--from", "2026-11-01T08:00Z",
                       "--to", "2026-11-01T08:02Z", "--rate", 5, "--json", env=aws.cli_env())
    summary = json.loads(result.stdout)
    assert summary["started"] == [f"{stamp(w)}-v1" for w in dataset.windows]
    assert summary["files"] == len(dataset.files())
    aws.settle()
    windows = ledger(aws)
    assert all(windows[w]["state"] == "committed" for w in dataset.windows)
    assert read_totals(aws, dataset.windows, tmp_path / "out") == expected_totals(dataset)


def test_firehose_cloudwatch_logs_and_native_parquet_objects_arrive_through_s3_events(aws, tmp_path):
    dataset = generate_into(tmp_path, "2026-11-01T10:00Z", minutes=5, accounts=8, seed=71,
                            delivery="mixed")
    keys = [dataset.key(p) for p in dataset.files()]
    for kind in ("firehose/", "cwl/"):
        assert any(k.startswith(kind) for k in keys), kind
    assert any(k.endswith(".log.parquet") for k in keys)
    # The custom formats of the headerless sources, as the CDK app's
    # `formats` context (list-batch writes them into the manifest every step
    # of the run reads).
    rules = [{"prefix": p, "format": f} for p, f in dataset.truth["formats"].items()]
    assert rules
    aws.lambdas(context={"formats": {"rules": rules}})
    try:
        deliver(aws, dataset)
        run_pipeline(aws)
    finally:
        aws.lambdas()
    windows = ledger(aws)
    for window in dataset.windows:
        assert windows[window]["state"] == "committed", windows[window]
        one_output_set(aws, window)
    assert read_totals(aws, dataset.windows, tmp_path / "out") == expected_totals(dataset)


def test_firehose_records_take_the_windows_they_start_in(aws, tmp_path):
    """The CDK app's windowFrom=start context: ingest reads each
    Firehose object from S3 and records it under every window its records
    start in; each of those windows commits only its own records."""
    dataset = generate_into(tmp_path, "2026-11-03T06:00Z", minutes=3, accounts=4, seed=83,
                            delivery="firehose")
    rules = [{"prefix": p, "format": f} for p, f in dataset.truth["formats"].items()]
    aws.lambdas(context={"formats": {"rules": rules}, "windowFrom": "start"})
    try:
        deliver(aws, dataset)
        run_pipeline(aws)
    finally:
        aws.lambdas()
    windows = {w: r for w, r in ledger(aws).items() if w.startswith("2026-11-03")}
    assert all(record["state"] == "committed" for record in windows.values()), windows
    # A delivery holds the five minutes of capture before it, so records land
    # in more windows than there are delivery minutes (the last of which may
    # hold none).
    with_output = [w for w in windows if output_keys(aws, w)]
    assert len(with_output) > len(dataset.windows)
    for window in with_output:
        one_output_set(aws, window)
    rows = read_totals(aws, windows, tmp_path / "out")
    assert per_account(rows) == per_account(expected_totals(dataset))


def hour_keys(aws, hour):
    """Key -> ETag of an hour's Parquet files in the hour tier."""
    marker = f"/{stamp(hour)}-"
    return {k: e for k, e in aws.keys(f"{OUTPUT_PREFIX}flowlogs-hourly/").items() if marker in k}


def hour_totals(aws, hour, dest):
    keys = hour_keys(aws, hour)
    assert keys, f"no output for {hour}"
    aws.download(keys, dest)
    return per_account(output_rows(str(dest / "**" / "*.parquet")))


def test_minutes_roll_up_into_their_hour_and_a_late_minute_re_rolls_it(aws, tmp_path):
    """The CDK app's rollup=hour (its default): each committed minute joins its
    hour; the scheduler starts the hour once its minutes are done, with the
    same state machine; a late file re-runs its minute and then the hour;
    `flowmerge rerun --hour` re-runs one."""
    hour = "2026-11-03T07Z"
    on_time = generate_into(tmp_path, "2026-11-03T07:00Z", minutes=3, accounts=4, seed=91)
    aws.lambdas(context={"rollup": "hour"})
    try:
        deliver(aws, on_time)
        run_pipeline(aws)
        assert ledger(aws)[hour]["state"] == "open"
        assert aws.schedule()["started"] == [f"{stamp(hour)}-v1"]
        aws.settle()
        record = ledger(aws)[hour]
        assert (record["state"], record["version"]) == ("committed", 1), record
        first = hour_keys(aws, hour)
        assert committed_keys(record) == set(first)
        assert hour_totals(aws, hour, tmp_path / "v1") == per_account(expected_totals(on_time))

        late = generate_into(tmp_path, "2026-11-03T07:00Z", seed=92, accounts=2)
        deliver(aws, late)
        aws.ingest_pending()
        # The late minute runs first; its hour waits for it.
        assert aws.schedule()["started"] == ["20261103T0700Z-v2"]
        aws.settle()
        assert ledger(aws)[hour]["state"] == "dirty"
        assert aws.schedule()["started"] == [f"{stamp(hour)}-v2"]
        aws.settle()
        record = ledger(aws)[hour]
        assert (record["state"], record["version"]) == ("committed", 2), record
        second = hour_keys(aws, hour)
        assert second and not set(first) & set(second), "the old hour output is gone"
        assert hour_totals(aws, hour, tmp_path / "v2") == per_account(expected_totals(on_time, late))

        result = flowmerge("rerun", "--hour", "2026-11-03T07", env=aws.cli_env())
        name = result.stdout.split()[-1]
        aws.settle()
        assert [e["status"] for e in aws.executions() if e["name"] == name] == ["SUCCEEDED"]
        assert ledger(aws)[hour]["version"] == 3
        assert hour_keys(aws, hour) == second, "same keys, same bytes (ETags)"
    finally:
        aws.lambdas()


def test_merge_settings_reach_every_step_through_list_batch(aws, tmp_path):
    """The CDK app's maxGap and targetFileSize context: list-batch writes
    them into the manifest every step reads, and the output has the rows and
    the files of those settings, the same as the CLI gives with them, and
    not those of the defaults."""
    dataset = generate_into(tmp_path, "2026-11-03T08:00Z", minutes=2, accounts=12, enis=10, flows=40, seed=95)
    target = 16 * 1024
    cli = {}
    for label, args in (("default", []), ("set", ["--max-gap", "window", "--target-file-size", str(target)])):
        summary = json.loads(flowmerge("compact", dataset.raw, tmp_path / f"cli-{label}", "--json", *args).stdout)
        cli[label] = (summary["rows_out"], summary["files_out"])
    assert cli["set"][0] < cli["default"][0] and cli["set"][1] > cli["default"][1], cli
    aws.lambdas(context={"maxGap": "window", "targetFileSize": target})
    try:
        deliver(aws, dataset)
        run_pipeline(aws)
    finally:
        aws.lambdas()
    windows = ledger(aws)
    assert all(windows[w]["state"] == "committed" for w in dataset.windows)
    s3 = aws.client("s3")
    for window in dataset.windows:
        key = f"{OUTPUT_PREFIX}_flowmerge/manifests/{stamp(window)}/v000001.json"
        settings = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read())["settings"]
        assert (settings["max_gap"], settings["target_file_size"]) == ("window", target), settings
    keys = [k for w in dataset.windows for k in output_keys(aws, w)]
    aws.download(keys, tmp_path / "aws")
    found = duckdb.execute("SELECT count(*) FROM read_parquet(?)", [str(tmp_path / "aws" / "**" / "*.parquet")]).fetchone()[0]
    assert (found, len(keys)) == cli["set"]
    assert read_totals(aws, dataset.windows, tmp_path / "totals") == expected_totals(dataset)
