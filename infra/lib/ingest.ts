/**
 * Raw-events ingest: S3 ObjectCreated events for every delivery prefix go to
 * the RawEvents queue (with its dead-letter queue), and the ingest Lambda
 * records each new file in the ledger under its window.
 */
import { Duration } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { Concern } from './concern';
import { FlowmergeConfig } from './config';
import { flowmergeFunction, RustLambda } from './rust-lambda';

/** Where flow logs arrive: the raw bucket and its delivery prefixes. */
export interface RawInput {
  readonly bucket: s3.IBucket;
  /** The key prefixes S3 events are sent for ("" = the whole bucket). */
  readonly notify: string[];
  /** The prefix the functions read under (RAW_PREFIX). */
  readonly root: string;
}

/** The ARNs of the raw objects under every delivery prefix. */
export function rawObjects(raw: RawInput): string[] {
  return raw.notify.map((prefix) => raw.bucket.arnForObjects(`${prefix}*`));
}

export interface RawEventsIngestProps {
  readonly config: FlowmergeConfig;
  readonly raw: RawInput;
  readonly table: dynamodb.ITable;
}

export class RawEventsIngest extends Concern {
  public readonly queue: sqs.Queue;
  public readonly dlq: sqs.Queue;
  public readonly function: RustLambda;

  constructor(scope: Construct, id: string, props: RawEventsIngestProps) {
    super(scope, id);
    const { config, raw, table } = props;
    this.dlq = new sqs.Queue(this, 'RawEventsDlq', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.dlq, [
      { id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of RawEvents; it is watched by the DLQ depth alarm.' },
    ]);
    // With windows from each record's start, ingest reads every Firehose
    // object (up to Firehose's 128 MiB buffer) to learn the windows it spans.
    const splits = config.windowFrom === 'start';
    const timeout = Duration.seconds(splits ? 300 : 60);
    this.queue = new sqs.Queue(this, 'RawEvents', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS's advice for SQS event sources: at least six times the function timeout.
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: 5 },
    });
    // VPC Flow Logs' own deliveries, and Firehose's where configured.
    for (const prefix of raw.notify) {
      raw.bucket.addEventNotification(
        s3.EventType.OBJECT_CREATED,
        new s3n.SqsDestination(this.queue),
        ...(prefix ? [{ prefix }] : []),
      );
    }

    this.function = flowmergeFunction(this, config, {
      name: 'ingest',
      description: 'Records new flow log files in the ledger under their window',
      memorySize: splits ? 1769 : 256,
      timeout,
      environment: {
        TABLE_NAME: table.tableName,
        RAW_PREFIX: raw.root,
        ...(splits
          ? { WINDOW_FROM: 'start', RAW_BUCKET: raw.bucket.bucketName, ...(config.formats ? { FORMATS: config.formats } : {}) }
          : {}),
      },
    });
    // S3 events in batches; a failed record is retried alone.
    this.function.function.addEventSource(
      new sources.SqsEventSource(this.queue, {
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(5),
        reportBatchItemFailures: true,
      }),
    );

    // Recording a window's files is one transaction of a Put and an Update (each
    // needs its own action); into a committed window it first reads the window's
    // files with a Query.
    this.function.allow(['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:TransactWriteItems'], [table.tableArn]);
    if (splits) {
      this.function.allow(['s3:GetObject'], rawObjects(raw));
      // A Firehose object gone before it was read is a 404, recorded whole.
      this.function.allow(['s3:ListBucket'], [raw.bucket.bucketArn]);
    }
  }
}
