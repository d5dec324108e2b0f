/**
 * The window workflow: the per-minute state machine
 * (statemachines/window.asl.json) and the three functions it chains —
 * list-batch, the Distributed Map of partial-merge, combine-commit — with
 * their grants, its role and its log group.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { Concern } from './concern';
import { FlowmergeConfig } from './config';
import { RawInput, rawObjects } from './ingest';
import { flowmergeFunction, RustLambda } from './rust-lambda';

/** The state machine definition, relative to this file. */
export const ASL_PATH = path.join(__dirname, '..', '..', 'statemachines', 'window.asl.json');

/**
 * The ASL file with the configured child execution type. The file holds the
 * default (EXPRESS) as a literal: the field takes one of two words, neither a
 * path nor a placeholder, so the file validates as committed. Everything
 * else configurable is a substitution.
 */
export function definition(config: FlowmergeConfig): string {
  const asl = JSON.parse(fs.readFileSync(ASL_PATH, 'utf8'));
  asl.States.MergeGroups.ItemProcessor.ProcessorConfig.ExecutionType = config.childExecutionType;
  return JSON.stringify(asl, null, 2);
}

export interface WindowWorkflowProps {
  readonly config: FlowmergeConfig;
  readonly raw: RawInput;
  readonly outputBucket: s3.IBucket;
  readonly table: dynamodb.ITable;
}

export class WindowWorkflow extends Concern {
  public readonly stateMachine: sfn.StateMachine;
  /**
   * The state machine's ARN, formatted from its name: the functions that
   * start executions take it without depending on the state machine.
   */
  public readonly stateMachineArn: string;
  /** Every execution of the state machine. */
  public readonly executionsArn: string;
  public readonly listBatch: RustLambda;
  public readonly partialMerge: RustLambda;
  public readonly combineCommit: RustLambda;
  /** The substitutions handed to the state machine (exposed for tests). */
  public readonly definitionSubstitutions: Record<string, string>;

  constructor(scope: Construct, id: string, props: WindowWorkflowProps) {
    super(scope, id);
    const { config, raw, outputBucket, table } = props;
    const stack = Stack.of(this);
    const stateMachineName = `${stack.stackName}-window`;
    const arn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'states', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.stateMachineArn = arn('stateMachine', stateMachineName);
    this.executionsArn = arn('execution', `${stateMachineName}:*`);
    // Child executions of the Distributed Map are named <parent>/<map run label>:<id>.
    const mapRunExecutionsArn = arn('execution', `${stateMachineName}/*`);

    // Each function gets exactly the variables it reads (infra/contract.json,
    // from the Rust side; a jest test holds the template to it).
    const common = {
      TABLE_NAME: table.tableName,
      RAW_BUCKET: raw.bucket.bucketName,
      RAW_PREFIX: raw.root,
      OUTPUT_BUCKET: outputBucket.bucketName,
      OUTPUT_PREFIX: config.outputPrefix,
    };
    // list-batch writes the merge settings into the manifest that the other
    // steps read, so it is the one given them.
    this.listBatch = flowmergeFunction(this, config, {
      name: 'list-batch',
      description: 'Claims a window and writes its manifest of account groups',
      memorySize: 512,
      timeout: Duration.minutes(2),
      environment: {
        ...common,
        MAX_GAP: config.maxGap,
        TARGET_FILE_SIZE: String(config.targetFileSize),
        ...(config.formats ? { FORMATS: config.formats } : {}),
      },
    });
    // partial-merge and combine-commit read the merge settings from the
    // manifest: given here, they would be settings that do nothing.
    this.partialMerge = flowmergeFunction(this, config, {
      name: 'partial-merge',
      description: 'Merges one account group of a window into a partial Parquet file',
      memorySize: 3008,
      timeout: Duration.minutes(15),
      environment: common,
    });
    // combine-commit is where a committed minute joins its hour; it
    // publishes the flowmerge/* metrics as embedded metric format log lines
    // (no cloudwatch:PutMetricData permission needed).
    this.combineCommit = flowmergeFunction(this, config, {
      name: 'combine-commit',
      description: 'Combines partials into the window output and commits it',
      memorySize: 3008,
      timeout: Duration.minutes(15),
      environment: { ...common, ROLLUP: config.rollup },
    });
    this.grantSteps(props);

    this.definitionSubstitutions = {
      ListBatchFunctionArn: this.listBatch.function.functionArn,
      PartialMergeFunctionArn: this.partialMerge.function.functionArn,
      CombineCommitFunctionArn: this.combineCommit.function.functionArn,
      OutputBucket: outputBucket.bucketName,
      OutputPrefix: config.outputPrefix,
      TableName: table.tableName,
      MapConcurrency: String(config.mapConcurrency),
    };
    const smLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      // Step Functions requires the /aws/vendedlogs/ prefix for large resource policies.
      logGroupName: `/aws/vendedlogs/states/${stateMachineName}`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'StateMachineRole', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: 'flowmerge window state machine',
    });
    this.stateMachine = new sfn.StateMachine(this, 'WindowStateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(definition(config)),
      definitionSubstitutions: this.definitionSubstitutions,
      role,
      logs: { destination: smLogs, level: sfn.LogLevel.ERROR, includeExecutionData: true },
      tracingEnabled: config.tracing,
    });
    const allow = (actions: string[], resources: string[]) => role.addToPolicy(new iam.PolicyStatement({ actions, resources }));
    allow(['lambda:InvokeFunction'], this.steps().map((f) => f.function.functionArn));
    allow(['s3:GetObject'], [outputObjects(config, outputBucket)]);
    allow(['dynamodb:UpdateItem'], [table.tableArn]);
    // The Distributed Map starts, watches, stops (and on redrive, redrives) its child executions.
    allow(['states:StartExecution'], [this.stateMachineArn]);
    allow(['states:DescribeExecution', 'states:StopExecution'], [this.executionsArn]);
    allow(['states:RedriveExecution'], [mapRunExecutionsArn]);
    // Log delivery to CloudWatch Logs: CDK adds logs:CreateLogDelivery & co. on Resource::*.
    this.suppressions(role, config.tracing);
  }

  /** The three functions the state machine invokes, in order. */
  public steps(): RustLambda[] {
    return [this.listBatch, this.partialMerge, this.combineCommit];
  }

  /** What each step reads and writes. */
  private grantSteps({ config, raw, outputBucket, table }: WindowWorkflowProps): void {
    const output = outputObjects(config, outputBucket);
    const { listBatch, partialMerge, combineCommit } = this;
    listBatch.allow(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], [table.tableArn]);
    listBatch.allow(['s3:PutObject'], [output]);
    if (config.rollup === 'hour') {
      // An hour's list-batch lists its minutes' output files.
      listBatch.allow(['s3:ListBucket'], [outputBucket.bucketArn]);
      // A minute output gone while its hour reads it is a 404 (the run is incomplete and retried).
      partialMerge.allow(['s3:ListBucket'], [outputBucket.bucketArn]);
      // Joining a minute to its hour records it like ingest records a file.
      combineCommit.allow(['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:TransactWriteItems'], [table.tableArn]);
    }
    partialMerge.allow(['s3:GetObject'], rawObjects(raw));
    // ListBucket only so that a vanished raw file reads as 404 NoSuchKey (an
    // unreadable file the merge records) instead of 403 AccessDenied.
    partialMerge.allow(['s3:ListBucket'], [raw.bucket.bucketArn]);
    // Large partials are multipart uploads; a failed one is aborted.
    partialMerge.allow(['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], [output]);
    combineCommit.allow(['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'], [output]);
    combineCommit.allow(['s3:ListBucket'], [outputBucket.bucketArn]);
    combineCommit.allow(['dynamodb:GetItem', 'dynamodb:UpdateItem'], [table.tableArn]);
  }

  /** cdk-nag findings of the state machine that are deliberate, each with its reason. */
  private suppressions(role: iam.Role, tracing: boolean): void {
    NagSuppressions.addResourceSuppressions(
      role,
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
    if (!tracing) {
      NagSuppressions.addResourceSuppressions(this.stateMachine, [
        {
          id: 'AwsSolutions-SF2',
          reason: 'X-Ray tracing was switched off by the operator (-c tracing=false) to save cost; it is on by default.',
        },
      ]);
    }
  }
}

/** Every object flowmerge writes to the output bucket. */
export function outputObjects(config: FlowmergeConfig, outputBucket: s3.IBucket): string {
  return outputBucket.arnForObjects(`${config.outputPrefix}*`);
}
