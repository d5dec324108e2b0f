/**
 * Pipeline stack: the stateless part of flowmerge on AWS, wired from its
 * concerns — raw-events ingest ({@link RawEventsIngest}), the per-minute
 * window workflow ({@link WindowWorkflow}), the {@link Scheduler},
 * {@link Operations} (alarms, redrive, dashboard) and the
 * {@link QueryLayer} over the output. It can be destroyed and redeployed
 * without losing data.
 */
import { CfnOutput, StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { ConcernStack } from './concern';
import { FlowmergeConfig, inputPrefixes } from './config';
import { RawEventsIngest } from './ingest';
import { Operations } from './operations';
import { QueryLayer } from './query-layer';
import { RustLambda } from './rust-lambda';
import { Scheduler } from './scheduler';
import { WindowWorkflow } from './window-workflow';

export interface PipelineStackProps extends StackProps {
  readonly config: FlowmergeConfig;
  /** Name of the bucket receiving flow logs (created by the stateful stack or imported). */
  readonly rawBucketName: string;
  readonly outputBucket: s3.IBucket;
  readonly queryResultsBucket: s3.IBucket;
  readonly table: dynamodb.ITable;
}

export class PipelineStack extends ConcernStack {
  public readonly stateMachine: sfn.StateMachine;
  public readonly functions: Record<string, RustLambda>;
  public readonly alarms: cloudwatch.Alarm[];
  /** The substitutions handed to the state machine (exposed for tests). */
  public readonly definitionSubstitutions: Record<string, string>;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config, outputBucket, table } = props;
    const raw = { bucket: s3.Bucket.fromBucketName(this, 'RawBucket', props.rawBucketName), ...inputPrefixes(config) };

    const ingest = new RawEventsIngest(this, 'RawEventsIngest', { config, raw, table });
    const workflow = new WindowWorkflow(this, 'Workflow', { config, raw, outputBucket, table });
    const scheduler = new Scheduler(this, 'Scheduling', { config, table, workflow });
    const { listBatch, partialMerge, combineCommit } = workflow;
    const operations = new Operations(this, 'Operations', {
      config,
      table,
      ingest,
      workflow,
      functions: { ingest: ingest.function, listBatch, partialMerge, combineCommit, scheduler: scheduler.function },
    });
    new QueryLayer(this, 'Query', {
      config,
      outputBucket,
      queryResultsBucket: props.queryResultsBucket,
      workGroupName: this.stackName,
    });
    this.stateMachine = workflow.stateMachine;
    this.definitionSubstitutions = workflow.definitionSubstitutions;
    this.alarms = operations.alarms;
    this.functions = {
      ingest: ingest.function,
      listBatch,
      partialMerge,
      combineCommit,
      scheduler: scheduler.function,
      redrive: operations.redrive,
    };

    // What `flowmerge rerun | backfill | status` and `aws stepfunctions` need.
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn, description: 'FLOWMERGE_STATE_MACHINE_ARN' });
    new CfnOutput(this, 'TableName', { value: table.tableName, description: 'FLOWMERGE_TABLE' });
    new CfnOutput(this, 'RawLocation', { value: `s3://${props.rawBucketName}/${raw.root}`, description: 'INPUT of flowmerge backfill' });
    new CfnOutput(this, 'OutputLocation', { value: `s3://${outputBucket.bucketName}/${config.outputPrefix}` });
    this.suppressions();
  }

  /** cdk-nag findings that are deliberate, each with its reason. */
  private suppressions(): void {
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
    NagSuppressions.addStackSuppressions(this, [
      {
        id: 'AwsSolutions-IAM4',
        reason: 'Only the CDK-provided BucketNotificationsHandler (S3 -> SQS notification custom resource) uses AWSLambdaBasicExecutionRole; it is not our code and runs only at deploy time.',
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
      },
    ]);
  }
}
