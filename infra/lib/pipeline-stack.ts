/**
 * Pipeline stack: the stateless part of flowmerge on AWS — the raw-events
 * queue and its DLQ, the six Rust Lambdas, the per-minute state machine
 * (statemachines/window.asl.json), schedules, alarms and the redrive loop, a
 * dashboard, and the query layer over the output ({@link QueryLayer}).
 * It can be destroyed and redeployed without losing data.
 */
import * as path from 'path';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { FlowmergeConfig, inputPrefixes } from './config';
import { METRIC_NAMESPACE, metricName } from './contract';
import { QueryLayer } from './query-layer';
import { RustLambda } from './rust-lambda';

/** The state machine definition, relative to this file. */
export const ASL_PATH = path.join(__dirname, '..', '..', 'statemachines', 'window.asl.json');

export interface PipelineStackProps extends StackProps {
  readonly config: FlowmergeConfig;
  /** Name of the bucket receiving flow logs (created by the stateful stack or imported). */
  readonly rawBucketName: string;
  readonly outputBucket: s3.IBucket;
  readonly queryResultsBucket: s3.IBucket;
  readonly table: dynamodb.ITable;
}

export class PipelineStack extends Stack {
  public readonly stateMachine: sfn.StateMachine;
  public readonly functions: Record<string, RustLambda>;
  public readonly alarms: cloudwatch.Alarm[];
  /** The substitutions handed to the state machine (exposed for tests). */
  public readonly definitionSubstitutions: Record<string, string>;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config, outputBucket, table } = props;
    const rawBucket = s3.Bucket.fromBucketName(this, 'RawBucket', props.rawBucketName);

    // ---- raw events: S3 -> SQS (with DLQ) -> ingest -------------------------
    const dlq = new sqs.Queue(this, 'RawEventsDlq', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(dlq, [
      { id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of RawEvents; it is watched by the DLQ depth alarm.' },
    ]);
    // With windows from each record's start, ingest reads every Firehose
    // object (up to Firehose's 128 MiB buffer) to learn the windows it spans.
    const splits = config.windowFrom === 'start';
    const ingestTimeout = Duration.seconds(splits ? 300 : 60);
    const queue = new sqs.Queue(this, 'RawEvents', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS's advice for SQS event sources: at least six times the function timeout.
      visibilityTimeout: Duration.seconds(ingestTimeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: dlq, maxReceiveCount: 5 },
    });
    // VPC Flow Logs' own deliveries, and Firehose's where configured.
    const input = inputPrefixes(config);
    for (const prefix of input.notify) {
      rawBucket.addEventNotification(
        s3.EventType.OBJECT_CREATED,
        new s3n.SqsDestination(queue),
        ...(prefix ? [{ prefix }] : []),
      );
    }

    // ---- functions ----------------------------------------------------------
    const stateMachineName = `${this.stackName}-window`;
    const stateMachineArn = this.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const executionsArn = this.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    // Child executions of the Distributed Map are named <parent>/<map run label>:<id>.
    const mapRunExecutionsArn = this.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachineName}/*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    // Each function gets exactly the variables it reads (infra/contract.json,
    // from the Rust side; a jest test holds the template to it).
    const ledgerEnv = { TABLE_NAME: table.tableName };
    const common = {
      ...ledgerEnv,
      RAW_BUCKET: props.rawBucketName,
      RAW_PREFIX: input.root,
      OUTPUT_BUCKET: outputBucket.bucketName,
      OUTPUT_PREFIX: config.outputPrefix,
    };
    // combine-commit and scheduler publish the flowmerge/* metrics as embedded
    // metric format log lines: no cloudwatch:PutMetricData permission needed.
    const fn = (name: string, description: string, memorySize: number, timeout: Duration, environment: Record<string, string>) =>
      new RustLambda(this, toId(name), {
        name,
        assetDir: config.lambdaAssetDir,
        description,
        memorySize,
        timeout,
        environment,
        tracing: config.tracing,
      });

    const ingest = fn('ingest', 'Records new flow log files in the ledger under their window', splits ? 1769 : 256, ingestTimeout, {
      ...ledgerEnv,
      RAW_PREFIX: input.root,
      ...(splits
        ? { WINDOW_FROM: 'start', RAW_BUCKET: props.rawBucketName, ...(config.formats ? { FORMATS: config.formats } : {}) }
        : {}),
    });
    // list-batch writes the merge settings into the manifest that the other
    // steps read, so it is the one given them.
    const listBatch = fn('list-batch', 'Claims a window and writes its manifest of account groups', 512, Duration.minutes(2), {
      ...common,
      MAX_GAP: config.maxGap,
      TARGET_FILE_SIZE: String(config.targetFileSize),
      ...(config.formats ? { FORMATS: config.formats } : {}),
    });
    // partial-merge and combine-commit read the merge settings from the
    // manifest: given here, they would be settings that do nothing.
    const partialMerge = fn('partial-merge', 'Merges one account group of a window into a partial Parquet file', 3008, Duration.minutes(15), {
      ...common,
    });
    // combine-commit is where a committed minute joins its hour.
    const rollup = config.rollup === 'hour';
    const combineCommit = fn('combine-commit', 'Combines partials into the window output and commits it', 3008, Duration.minutes(15), {
      ...common,
      ROLLUP: config.rollup,
    });
    const scheduler = fn('scheduler', 'Starts an execution for every window that is due', 256, Duration.seconds(55), {
      ...ledgerEnv,
      STATE_MACHINE_ARN: stateMachineArn,
      SETTLE_SECONDS: String(config.settleSeconds),
    });
    const redrive = fn('redrive', 'Redrives or restarts failed windows when an alarm fires', 256, Duration.minutes(1), {
      ...ledgerEnv,
      STATE_MACHINE_ARN: stateMachineArn,
      MAX_ATTEMPTS: String(config.maxRedriveAttempts),
    });
    this.functions = { ingest, listBatch, partialMerge, combineCommit, scheduler, redrive };

    // ingest: S3 events in batches; a failed record is retried alone.
    ingest.function.addEventSource(
      new sources.SqsEventSource(queue, {
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(5),
        reportBatchItemFailures: true,
      }),
    );

    // ---- least-privilege grants ---------------------------------------------
    const indexArn = `${table.tableArn}/index/due`;
    const outputObjects = outputBucket.arnForObjects(`${config.outputPrefix}*`);
    const allow = (target: RustLambda, actions: string[], resources: string[]) =>
      target.role.addToPolicy(new iam.PolicyStatement({ actions, resources }));

    // Recording a file reads guards/windows with BatchGetItem and writes them in
    // one transaction of Puts and Updates (each needs its own action).
    allow(ingest, ['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:TransactWriteItems'], [table.tableArn]);
    if (splits) {
      allow(ingest, ['s3:GetObject'], input.notify.map((prefix) => rawBucket.arnForObjects(`${prefix}*`)));
      // A Firehose object gone before it was read is a 404, recorded whole.
      allow(ingest, ['s3:ListBucket'], [rawBucket.bucketArn]);
    }

    allow(listBatch, ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], [table.tableArn]);
    allow(listBatch, ['s3:PutObject'], [outputObjects]);
    if (rollup) {
      // An hour's list-batch lists its minutes' output files.
      allow(listBatch, ['s3:ListBucket'], [outputBucket.bucketArn]);
      // A minute output gone while its hour reads it is a 404 (the run is incomplete and retried).
      allow(partialMerge, ['s3:ListBucket'], [outputBucket.bucketArn]);
      // Joining a minute to its hour records it like ingest records a file.
      allow(combineCommit, ['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:TransactWriteItems'], [table.tableArn]);
      // An hour is due once none of its minutes waits or runs.
      allow(scheduler, ['dynamodb:GetItem'], [table.tableArn]);
    }

    allow(partialMerge, ['s3:GetObject'], input.notify.map((prefix) => rawBucket.arnForObjects(`${prefix}*`)));
    // ListBucket only so that a vanished raw file reads as 404 NoSuchKey (an
    // unreadable file the merge records) instead of 403 AccessDenied.
    allow(partialMerge, ['s3:ListBucket'], [rawBucket.bucketArn]);
    // Large partials are multipart uploads; a failed one is aborted.
    allow(partialMerge, ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], [outputObjects]);

    allow(combineCommit, ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'], [outputObjects]);
    allow(combineCommit, ['s3:ListBucket'], [outputBucket.bucketArn]);
    allow(combineCommit, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [table.tableArn]);

    allow(scheduler, ['dynamodb:Query'], [indexArn]);
    allow(scheduler, ['states:StartExecution'], [stateMachineArn]);

    allow(redrive, ['states:ListExecutions', 'states:StartExecution'], [stateMachineArn]);
    allow(redrive, ['states:DescribeExecution', 'states:RedriveExecution'], [executionsArn]);
    allow(redrive, ['dynamodb:GetItem'], [table.tableArn]);

    // ---- state machine --------------------------------------------------------
    this.definitionSubstitutions = {
      ListBatchFunctionArn: listBatch.function.functionArn,
      PartialMergeFunctionArn: partialMerge.function.functionArn,
      CombineCommitFunctionArn: combineCommit.function.functionArn,
      OutputBucket: outputBucket.bucketName,
      OutputPrefix: config.outputPrefix,
      TableName: table.tableName,
      MapConcurrency: String(config.mapConcurrency),
      ChildExecutionType: config.childExecutionType,
    };
    const smLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      // Step Functions requires the /aws/vendedlogs/ prefix for large resource policies.
      logGroupName: `/aws/vendedlogs/states/${stateMachineName}`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const smRole = new iam.Role(this, 'StateMachineRole', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: 'flowmerge window state machine',
    });
    this.stateMachine = new sfn.StateMachine(this, 'WindowStateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(ASL_PATH),
      definitionSubstitutions: this.definitionSubstitutions,
      role: smRole,
      logs: { destination: smLogs, level: sfn.LogLevel.ERROR, includeExecutionData: true },
      tracingEnabled: config.tracing,
    });
    const smAllow = (actions: string[], resources: string[]) =>
      smRole.addToPolicy(new iam.PolicyStatement({ actions, resources }));
    smAllow(['lambda:InvokeFunction'], [listBatch, partialMerge, combineCommit].map((f) => f.function.functionArn));
    smAllow(['s3:GetObject'], [outputObjects]);
    smAllow(['dynamodb:UpdateItem'], [table.tableArn]);
    // The Distributed Map starts, watches, stops (and on redrive, redrives) its child executions.
    smAllow(['states:StartExecution'], [stateMachineArn]);
    smAllow(['states:DescribeExecution', 'states:StopExecution'], [executionsArn]);
    smAllow(['states:RedriveExecution'], [mapRunExecutionsArn]);
    // Log delivery to CloudWatch Logs: CDK adds logs:CreateLogDelivery & co. on Resource::*.

    // ---- schedules ------------------------------------------------------------
    new events.Rule(this, 'EveryMinute', {
      description: 'flowmerge: start due windows',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(scheduler.function, { retryAttempts: 2 })],
    });

    // ---- alarms -----------------------------------------------------------------
    const failed = new cloudwatch.Alarm(this, 'ExecutionsFailedAlarm', {
      alarmDescription: 'flowmerge: a window execution failed (the redrive Lambda retries it)',
      metric: this.stateMachine.metricFailed({ period: Duration.minutes(1), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const dlqDepth = new cloudwatch.Alarm(this, 'DlqDepthAlarm', {
      alarmDescription: 'flowmerge: S3 events the ingest Lambda could not record are in the DLQ',
      metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const lagMetric = new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName: metricName('WindowLagSeconds'),
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
    const lag = new cloudwatch.Alarm(this, 'WindowLagAlarm', {
      alarmDescription: `flowmerge: the oldest due window is more than ${config.lagAlarmSeconds}s behind`,
      metric: lagMetric,
      threshold: config.lagAlarmSeconds,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarms = [failed, dlqDepth, lag];

    new events.Rule(this, 'AlarmToRedrive', {
      description: 'flowmerge: an alarm went to ALARM -> redrive failed windows',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        resources: this.alarms.map((a) => a.alarmArn),
        detail: { state: { value: ['ALARM'] } },
      },
      targets: [new targets.LambdaFunction(redrive.function, { retryAttempts: 2 })],
    });

    // ---- dashboard ----------------------------------------------------------------
    const custom = (name: string, statistic = 'Sum') =>
      new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName: metricName(name), statistic, period: Duration.minutes(1) });
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${this.stackName}`,
      defaultInterval: Duration.hours(6),
    });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Windows committed / failed', left: [custom('WindowsCommitted'), this.stateMachine.metricSucceeded(), this.stateMachine.metricFailed()] }),
      new cloudwatch.GraphWidget({ title: 'Window lag (s)', left: [lagMetric], leftAnnotations: [{ value: config.lagAlarmSeconds, label: 'alarm' }] }),
      new cloudwatch.GraphWidget({ title: 'Records in / rows out', left: [custom('RecordsIn'), custom('RowsOut')] }),
      new cloudwatch.GraphWidget({ title: 'Bad lines / unreadable files', left: [custom('BadLines'), custom('BadFiles')] }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Execution time (ms)', left: [this.stateMachine.metricTime({ statistic: 'p50' }), this.stateMachine.metricTime({ statistic: 'Maximum' })] }),
      new cloudwatch.GraphWidget({
        title: 'Lambda duration p90 (ms)',
        left: [listBatch, partialMerge, combineCommit, ingest].map((f) => f.function.metricDuration({ statistic: 'p90', label: f.node.id })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda errors / throttles',
        left: Object.values(this.functions).map((f) => f.function.metricErrors({ label: `${f.node.id} errors` })),
        right: Object.values(this.functions).map((f) => f.function.metricThrottles({ label: `${f.node.id} throttles` })),
      }),
      new cloudwatch.GraphWidget({ title: 'Raw events queue', left: [queue.metricApproximateAgeOfOldestMessage()], right: [dlq.metricApproximateNumberOfMessagesVisible()] }),
    );
    if (rollup) {
      dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: 'Hours committed', left: [custom('HoursCommitted')] }),
        new cloudwatch.GraphWidget({ title: 'Hour tier rows / files out', left: [custom('HourRowsOut')], right: [custom('HourFilesOut')] }),
        new cloudwatch.GraphWidget({ title: 'Hour tier bytes out', left: [custom('HourBytesOut')] }),
      );
    }
    dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }));

    // ---- Glue tables and Athena ------------------------------------------------------
    new QueryLayer(this, 'Query', {
      config,
      outputBucket,
      queryResultsBucket: props.queryResultsBucket,
      workGroupName: this.stackName,
    });

    // What `flowmerge rerun | backfill | status` and `aws stepfunctions` need.
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn, description: 'FLOWMERGE_STATE_MACHINE_ARN' });
    new CfnOutput(this, 'TableName', { value: table.tableName, description: 'FLOWMERGE_TABLE' });
    new CfnOutput(this, 'RawLocation', { value: `s3://${props.rawBucketName}/${input.root}`, description: 'INPUT of flowmerge backfill' });
    new CfnOutput(this, 'OutputLocation', { value: `s3://${outputBucket.bucketName}/${config.outputPrefix}` });

    this.suppressions(smRole);
    if (!config.tracing) {
      NagSuppressions.addResourceSuppressions(this.stateMachine, [
        {
          id: 'AwsSolutions-SF2',
          reason: 'X-Ray tracing was switched off by the operator (-c tracing=false) to save cost; it is on by default.',
        },
      ]);
    }
  }

  /** cdk-nag findings that are deliberate, each with its reason. */
  private suppressions(smRole: iam.Role): void {
    NagSuppressions.addResourceSuppressions(
      Object.values(this.functions).map((f) => f.role),
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'Object-level S3 actions are scoped to the configured prefix (<bucket>/<prefix>*): the functions read and write objects whose keys are only known at run time.',
          appliesTo: [{ regex: '/^Resource::(<OutputBucket[0-9A-F]+\\.Arn>|[A-Za-z0-9-]+:ExportsOutputFnGetAttOutputBucket[0-9A-F]+Arn[0-9A-F]+|arn:<AWS::Partition>:s3:::[^/]+)\\/.*\\*$/g' }],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason: 'Executions of the window state machine are named per window and version at run time; access is limited to that state machine\'s executions.',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:states:.*:execution:.*$/g' }],
        },
      ],
      true,
    );
    NagSuppressions.addResourceSuppressions(
      smRole,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'The Distributed Map ItemReader reads item lists whose keys are chosen at run time under the output prefix.',
          appliesTo: [{ regex: '/^Resource::(<OutputBucket[0-9A-F]+\\.Arn>|[A-Za-z0-9-]+:ExportsOutputFnGetAttOutputBucket[0-9A-F]+Arn[0-9A-F]+)\\/.*\\*$/g' }],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'The Distributed Map starts, describes, stops and redrives child executions of this state machine, whose names are chosen by Step Functions at run time.',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.*$/g' }],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'CloudWatch Logs log delivery (logs:CreateLogDelivery & co.) and X-Ray actions, added by CDK for logging and tracing, support no resource-level permissions.',
          appliesTo: ['Resource::*'],
        },
      ],
      true,
    );
    NagSuppressions.addResourceSuppressions(this.stateMachine, [
      {
        id: 'AwsSolutions-SF1',
        reason:
          'Logging level ERROR with execution data keeps failures in CloudWatch Logs; every step of every execution is already in the Step Functions execution history (90 days), so ALL would only add log cost at one execution per minute.',
      },
    ]);
    NagSuppressions.addStackSuppressions(this, [
      {
        id: 'AwsSolutions-IAM4',
        reason: 'Only the CDK-provided BucketNotificationsHandler (S3 -> SQS notification custom resource) uses AWSLambdaBasicExecutionRole; it is not our code and runs only at deploy time.',
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
      },
    ]);
  }
}

/** `partial-merge` -> `PartialMerge`. */
function toId(name: string): string {
  return name
    .split('-')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}

