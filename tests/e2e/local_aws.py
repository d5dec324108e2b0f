"""A local AWS for the end-to-end tests: moto server (S3, SQS, DynamoDB, Step
Functions executing our ASL), `cargo lambda watch` serving the real Rust
Lambdas, and router.py between them. Resources get the names the CDK app
gives them. The functions' environment, the state machine's definition
(statemachines/window.asl.json as the stack deploys it) and its
substitutions are read from the CDK app's synthesised template for the
scenario's context (`deployment`), so a scenario sets what a deployment
sets, the way it sets it.

What AWS would do around the functions, the harness does by hand: the SQS
event source mapping (`ingest_pending`), the EventBridge schedule
(`schedule`) and the alarm rule (`redrive`).
"""

import functools
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "FlowmergePipeline"
RAW_BUCKET = "flowmerge-raw"
OUTPUT_BUCKET = "flowmerge-output"
OUTPUT_PREFIX = "compacted/"
TABLE = "flowmerge-ledger"
QUEUE = "flowmerge-raw-events"
STATE_MACHINE = f"{STACK}-window"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE}"
# The deployment the harness stands for, as CDK context: the resources'
# names, settling at once, and minutes only (the deployed default rolls up
# hours; the rollup scenario asks for it). moto runs Distributed Map
# children only as STANDARD workflows; the deployed default is EXPRESS.
DEPLOYMENT = {
    "rawBucketName": RAW_BUCKET,
    "outputPrefix": OUTPUT_PREFIX,
    "settleSeconds": 0,
    "rollup": "none",
    "mapConcurrency": 4,
    "childExecutionType": "STANDARD",
}
# The function defaults the harness changes, beyond any deployment setting.
# Small groups, so that a window has several partial merges and combine re-merges.
GROUP_BYTES = 4096
HARNESS_ENV = {"GROUP_BYTES": str(GROUP_BYTES), "RUST_LOG": "info"}
# The variables the functions read, from the Rust side (infra/contract.json):
# the harness may change no other default.
CONTRACT_VARS = {v["name"] for f in json.loads((REPO / "infra" / "contract.json").read_text())["functions"].values()
                 for v in f["env"]}
assert set(HARNESS_ENV) <= CONTRACT_VARS, f"no function reads {set(HARNESS_ENV) - CONTRACT_VARS}"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


# What the template refers to by reference (a table, a bucket, an ARN), as
# the harness names it.
LOCAL_REFERENCES = {
    "TABLE_NAME": TABLE,
    "TableName": TABLE,
    "OUTPUT_BUCKET": OUTPUT_BUCKET,
    "OutputBucket": OUTPUT_BUCKET,
    "STATE_MACHINE_ARN": STATE_MACHINE_ARN,
    "ListBatchFunctionArn": function_arn("list-batch"),
    "PartialMergeFunctionArn": function_arn("partial-merge"),
    "CombineCommitFunctionArn": function_arn("combine-commit"),
}


@functools.cache
def synthesised(context_json: str) -> dict:
    result = subprocess.run(
        ["npx", "ts-node", "--transpile-only", "scripts/function-env.ts", context_json],
        cwd=REPO / "infra", check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def deployment(context: dict) -> dict:
    """What the CDK app, synthesised with this context over DEPLOYMENT, gives
    each function and the state machine (infra/scripts/function-env.ts):
    {"functions": {name: env}, "definition": ASL, "substitutions": {name:
    value}}, with the template's references replaced by the local
    resources' names."""
    template = synthesised(json.dumps({**DEPLOYMENT, **context}, sort_keys=True))

    def local(values: dict) -> dict:
        return {k: v if isinstance(v, str) else LOCAL_REFERENCES[k] for k, v in values.items()}
    return {"functions": {name: local(env) for name, env in template["functions"].items()},
            "definition": template["definition"],
            "substitutions": local(template["substitutions"]),
            "ingest_batch_size": template["ingestBatch"]["BatchSize"],
            "memory": template["memory"]}


def one_environment(functions: dict) -> dict:
    """The functions' variables as one environment (cargo lambda watch serves
    them all from one); a variable two functions are given differently
    cannot be, and fails."""
    env = {}
    for name, variables in functions.items():
        for key, value in variables.items():
            assert env.setdefault(key, value) == value, f"{key}: {env[key]!r} elsewhere, {value!r} for {name}"
    return env


def substituted_definition(deployed: dict) -> str:
    """The deployment's state machine with its substitutions made, as
    `definitionSubstitutions` makes it."""
    text = deployed["definition"]
    for name, value in deployed["substitutions"].items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, "unsubstituted placeholder"
    json.loads(text)
    return text


def wait_until(what: str, check, timeout: float = 120, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def http_up(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class LocalAws:
    """Starts the processes, creates the resources, drives the pipeline."""

    def __init__(self, workdir: Path, bin_dir: Path):
        self.workdir = workdir
        self.bin_dir = bin_dir
        self.moto_port, self.router_port, self.lambda_port = free_port(), free_port(), free_port()
        self.moto_url = f"http://127.0.0.1:{self.moto_port}"
        self.router_url = f"http://127.0.0.1:{self.router_port}"
        self.meter_log = workdir / "meter.jsonl"
        self.lambda_url = f"http://127.0.0.1:{self.lambda_port}"
        self.processes = {}
        self.started_with = None

    # ---- processes --------------------------------------------------------------

    def spawn(self, name: str, args, env=None):
        log = open(self.workdir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **CREDENTIALS, **(env or {})}, start_new_session=True,
        )

    def kill(self, name: str):
        process = self.processes.pop(name, None)
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()

    def start(self):
        self.spawn("moto", [str(self.bin_dir / "moto_server"), "-H", "127.0.0.1", "-p", str(self.moto_port)],
                   env={"MOTO_PORT": str(self.router_port)})
        self.spawn("router", [str(self.bin_dir / "python"), str(Path(__file__).with_name("router.py")),
                              str(self.router_port), self.moto_url, self.lambda_url, str(self.meter_log)])
        self.wait_up("moto", f"{self.moto_url}/moto-api/")
        self.wait_up("router", f"http://127.0.0.1:{self.router_port}/moto-api/")
        request = urllib.request.Request(
            f"{self.moto_url}/moto-api/config", method="POST",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode())
        urllib.request.urlopen(request, timeout=10)
        self.create_resources()
        self.lambdas()

    def wait_up(self, name: str, url: str):
        """Waits for a started process to answer; fails at once if it died."""
        def up():
            if self.processes[name].poll() is not None:
                log = (self.workdir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {self.processes[name].returncode}:\n{log}")
            return http_up(url)
        wait_until(name, up, timeout=60)

    def stop(self):
        for name in list(self.processes):
            self.kill(name)

    def lambdas(self, failpoints: str = "", timeout: int = 600, context: dict | None = None,
                small_groups: bool = True):
        """(Re)starts cargo lambda watch with the environment a deployment with
        this CDK context gives the functions, and these failpoints, like a
        deploy with new settings (fresh instances, fresh state); with
        `small_groups`, GROUP_BYTES makes windows of several groups.

        watch does not notice a function process that dies mid-invocation:
        the invocation hangs until `timeout` seconds, then fails as
        `Sandbox.Timedout` (router.py), as a Lambda that runs out of time does."""
        context = context or {}
        key = (failpoints, timeout, json.dumps(context, sort_keys=True), small_groups)
        if key == self.started_with and "lambdas" in self.processes:
            return
        self.kill("lambdas")
        deployed = deployment(context)
        self.ingest_batch_size, self.memory = deployed["ingest_batch_size"], deployed["memory"]
        functions = one_environment(deployed["functions"])
        # The functions reach AWS through the router, which counts their requests.
        harness = {k: v for k, v in HARNESS_ENV.items() if small_groups or k != "GROUP_BYTES"}
        env = {**functions, **harness, "AWS_ENDPOINT_URL": self.router_url, "FLOWMERGE_FAILPOINTS": failpoints}
        # The functions inherit watch's environment.
        args = [str(self.bin_dir / "cargo-lambda"), "lambda", "watch", "--ignore-changes",
                "-A", "127.0.0.1", "-P", str(self.lambda_port), "--timeout", str(timeout)]
        self.spawn("lambdas", args, env={"PATH": f"{self.bin_dir}:{os.environ['PATH']}", **env})
        self.wait_up("lambdas", self.lambda_url)
        self.started_with = key

    # ---- resources, as the CDK app creates them ------------------------------------

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.moto_url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def create_resources(self):
        s3, sqs = self.client("s3"), self.client("sqs")
        for bucket in (RAW_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        dlq = sqs.create_queue(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queue_url = sqs.create_queue(QueueName=QUEUE, Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
            "VisibilityTimeout": "1",
        })["QueueUrl"]
        self.dlq_url = dlq
        self.queue_arn = sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.put_bucket_notification_configuration(Bucket=RAW_BUCKET, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": self.queue_arn, "Events": ["s3:ObjectCreated:*"]}],
        })
        # S3 confirms a new notification with an s3:TestEvent, which ingest
        # ignores; the scenarios start from an empty queue and count their own.
        sqs.purge_queue(QueueUrl=self.queue_url)
        self.client("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                  for n in ("pk", "sk", "due_pk", "due_sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "due",
                "KeySchema": [{"AttributeName": "due_pk", "KeyType": "HASH"},
                              {"AttributeName": "due_sk", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
        )
        self.client("stepfunctions").create_state_machine(
            name=STATE_MACHINE, type="STANDARD",
            definition=substituted_definition(deployment({})),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{STACK}-StateMachineRole",
        )

    # ---- what AWS does around the functions --------------------------------------------

    def invoke(self, function: str, event) -> tuple:
        """Invokes a function directly; returns (ok, payload)."""
        request = urllib.request.Request(
            f"{self.lambda_url}/2015-03-31/functions/{function}/invocations",
            data=json.dumps(event).encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return True, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            return False, json.loads(e.read() or b"null")

    def receive_batch(self) -> list:
        """Messages for one ingest invocation: up to the event source
        mapping's batch size, gathered until the queue has no more."""
        sqs, batch = self.client("sqs"), []
        while len(batch) < self.ingest_batch_size:
            # In flight until the invocation answers, however long gathering takes.
            received = sqs.receive_message(QueueUrl=self.queue_url, AttributeNames=["All"], VisibilityTimeout=60,
                                           MaxNumberOfMessages=min(10, self.ingest_batch_size - len(batch)))
            # A message seen again (its visibility ran out) joins the batch once.
            ids = {m["MessageId"] for m in batch}
            batch += [m for m in received.get("Messages", []) if m["MessageId"] not in ids]
            if not received.get("Messages") and self.queue_depth(visible_only=True) == 0:
                break
        return batch

    def ingest_pending(self) -> dict:
        """The SQS event source mapping: batches of up to its batch size to
        the ingest Lambda until the queue is empty; messages reported as
        failed stay (and end in the DLQ after 5 receives). Returns counts."""
        sqs = self.client("sqs")
        counts = {"messages": 0, "failed": 0, "batches": 0}
        while True:
            messages = self.receive_batch()
            if not messages:
                if self.queue_depth() == 0:
                    return counts
                time.sleep(0.3)  # failed messages come back after the visibility timeout
                continue
            event = {"Records": [{
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs", "eventSourceARN": self.queue_arn, "awsRegion": REGION,
            } for m in messages]}
            ok, answer = self.invoke("ingest", event)
            assert ok, answer
            failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            counts["messages"] += len(messages)
            counts["failed"] += len(failed)
            counts["batches"] += 1
            for m in messages:
                if m["MessageId"] in failed:  # back after the queue's visibility timeout
                    sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                  VisibilityTimeout=1)
                else:
                    sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def queue_depth(self, visible_only: bool = False) -> int:
        """Messages in the raw events queue, visible or (unless
        `visible_only`) in flight."""
        names = ["ApproximateNumberOfMessages"] + ([] if visible_only else ["ApproximateNumberOfMessagesNotVisible"])
        attributes = self.client("sqs").get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)
        return sum(int(attributes["Attributes"][n]) for n in names)

    def schedule(self) -> dict:
        """The EventBridge schedule: one scheduler run."""
        ok, summary = self.invoke("scheduler", {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        assert ok, summary
        return summary

    def redrive(self) -> dict:
        """The alarm rule: the failed-executions alarm went to ALARM."""
        event = {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
                 "detail": {"alarmName": f"{STACK}-ExecutionsFailed", "state": {"value": "ALARM"}}}
        ok, summary = self.invoke("redrive", event)
        assert ok, summary
        return summary

    # ---- looking at the result -----------------------------------------------------------

    def executions(self, status=None) -> list:
        sfn = self.client("stepfunctions")
        kwargs = {"stateMachineArn": STATE_MACHINE_ARN, **({"statusFilter": status} if status else {})}
        return [e for page in sfn.get_paginator("list_executions").paginate(**kwargs) for e in page["executions"]]

    def settle(self, timeout: float = 300) -> list:
        """Waits until no execution runs; returns all executions."""
        wait_until("executions to finish", lambda: not self.executions("RUNNING"), timeout=timeout, every=0.5)
        return self.executions()

    def describe(self, execution_arn: str) -> dict:
        return self.client("stepfunctions").describe_execution(executionArn=execution_arn)

    def keys(self, prefix: str) -> dict:
        """Key -> ETag of every object under `prefix` in the output bucket."""
        s3 = self.client("s3")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=OUTPUT_BUCKET, Prefix=prefix)
        return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}

    def download(self, keys, dest: Path) -> list:
        s3 = self.client("s3")
        paths = []
        for key in keys:
            path = dest / key
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(OUTPUT_BUCKET, key, str(path))
            paths.append(path)
        return paths

    def cli_env(self) -> dict:
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.moto_url,
                "FLOWMERGE_TABLE": TABLE, "FLOWMERGE_STATE_MACHINE_ARN": STATE_MACHINE_ARN}
