/**
 * Stateful stack: everything that holds data and must outlive a redeploy of
 * the pipeline — the raw bucket (unless imported), the output bucket, the
 * Athena results bucket, the server access log bucket and the ledger table.
 * All of it is RETAINed.
 */
import { Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { FlowmergeConfig } from './config';

export interface StatefulStackProps extends StackProps {
  readonly config: FlowmergeConfig;
}

export class StatefulStack extends Stack {
  /** Bucket receiving flow logs, when this stack creates it (undefined when imported). */
  public readonly rawBucket?: s3.Bucket;
  /** Name of the raw bucket, created or imported. */
  public readonly rawBucketName: string;
  public readonly outputBucket: s3.Bucket;
  public readonly queryResultsBucket: s3.Bucket;
  /** The ledger: layout as documented on the Rust `DynamoLedger`. */
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { config } = props;

    const secure: Partial<s3.BucketProps> = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
    };

    const accessLogs = new s3.Bucket(this, 'AccessLogsBucket', {
      ...secure,
      // Access logs are for investigations, not archives.
      lifecycleRules: [{ expiration: Duration.days(90), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
    NagSuppressions.addResourceSuppressions(accessLogs, [
      {
        id: 'AwsSolutions-S1',
        reason: 'This is the server access log destination; logging it into itself would loop.',
      },
    ]);

    if (config.rawBucketName === undefined) {
      this.rawBucket = new s3.Bucket(this, 'RawBucket', {
        ...secure,
        serverAccessLogsBucket: accessLogs,
        serverAccessLogsPrefix: 'raw/',
        // Flow log delivery writes each object once; versions would only add cost.
        versioned: false,
        lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      });
      this.rawBucketName = this.rawBucket.bucketName;
    } else {
      this.rawBucketName = config.rawBucketName;
    }

    this.outputBucket = new s3.Bucket(this, 'OutputBucket', {
      ...secure,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'output/',
      // Versioning stays off: output keys are deterministic and a re-run
      // overwrites them, then combine-commit deletes superseded files and
      // staging objects. With versioning every re-run and every staging
      // object would leave noncurrent versions behind (cost, and Athena
      // never reads them); the ledger (with PITR) records which files are
      // current, and the raw input can always be compacted again.
      versioned: false,
      lifecycleRules: [
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
        // A window's latest manifest stays for replays from the execution
        // history, which Step Functions keeps for 90 days; then it goes.
        { prefix: `${config.outputPrefix}_flowmerge/manifests/`, expiration: Duration.days(90) },
      ],
    });

    this.queryResultsBucket = new s3.Bucket(this, 'QueryResultsBucket', {
      ...secure,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'athena-results/',
      lifecycleRules: [{ expiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });

    this.table = new dynamodb.Table(this, 'LedgerTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'ttl',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Sparse: only windows that may need a run carry due_pk/due_sk.
    this.table.addGlobalSecondaryIndex({
      indexName: 'due',
      partitionKey: { name: 'due_pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'due_sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
