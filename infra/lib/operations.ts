/**
 * Operations: the alarms (failed executions, DLQ depth, window lag), the
 * redrive Lambda they trigger, which redrives or restarts failed windows,
 * and the dashboard.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { Concern } from './concern';
import { FlowmergeConfig } from './config';
import { METRIC_NAMESPACE, metricName } from './contract';
import { RawEventsIngest } from './ingest';
import { flowmergeFunction, RustLambda } from './rust-lambda';
import { WindowWorkflow } from './window-workflow';

export interface OperationsProps {
  readonly config: FlowmergeConfig;
  readonly table: dynamodb.ITable;
  readonly ingest: RawEventsIngest;
  readonly workflow: WindowWorkflow;
  /** The functions of the other concerns, graphed beside redrive. */
  readonly functions: Record<string, RustLambda>;
}

export class Operations extends Concern {
  public readonly redrive: RustLambda;
  public readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const { config, table, ingest, workflow } = props;
    this.redrive = flowmergeFunction(this, config, {
      name: 'redrive',
      description: 'Redrives or restarts failed windows when an alarm fires',
      memorySize: 256,
      timeout: Duration.minutes(1),
      environment: {
        TABLE_NAME: table.tableName,
        STATE_MACHINE_ARN: workflow.stateMachineArn,
        MAX_ATTEMPTS: String(config.maxRedriveAttempts),
      },
    });
    this.redrive.allow(['states:ListExecutions', 'states:StartExecution'], [workflow.stateMachineArn]);
    this.redrive.allow(['states:DescribeExecution', 'states:RedriveExecution'], [workflow.executionsArn]);
    this.redrive.allow(['dynamodb:GetItem'], [table.tableArn]);

    const lagMetric = custom('WindowLagSeconds', 'Maximum');
    this.alarms = [
      new cloudwatch.Alarm(this, 'ExecutionsFailedAlarm', {
        alarmDescription: 'flowmerge: a window execution failed (the redrive Lambda retries it)',
        metric: workflow.stateMachine.metricFailed({ period: Duration.minutes(1), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'DlqDepthAlarm', {
        alarmDescription: 'flowmerge: S3 events the ingest Lambda could not record are in the DLQ',
        metric: ingest.dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'WindowLagAlarm', {
        alarmDescription: `flowmerge: the oldest due window is more than ${config.lagAlarmSeconds}s behind`,
        metric: lagMetric,
        threshold: config.lagAlarmSeconds,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    new events.Rule(this, 'AlarmToRedrive', {
      description: 'flowmerge: an alarm went to ALARM -> redrive failed windows',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        resources: this.alarms.map((a) => a.alarmArn),
        detail: { state: { value: ['ALARM'] } },
      },
      targets: [new targets.LambdaFunction(this.redrive.function, { retryAttempts: 2 })],
    });

    this.dashboard(props, lagMetric);
  }

  private dashboard({ config, ingest, workflow, functions }: OperationsProps, lagMetric: cloudwatch.Metric): void {
    const sm = workflow.stateMachine;
    const all = [...Object.values(functions), this.redrive];
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: Stack.of(this).stackName,
      defaultInterval: Duration.hours(6),
    });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Windows committed / failed', left: [custom('WindowsCommitted'), sm.metricSucceeded(), sm.metricFailed()] }),
      new cloudwatch.GraphWidget({ title: 'Window lag (s)', left: [lagMetric], leftAnnotations: [{ value: config.lagAlarmSeconds, label: 'alarm' }] }),
      new cloudwatch.GraphWidget({ title: 'Records in / rows out', left: [custom('RecordsIn'), custom('RowsOut')] }),
      new cloudwatch.GraphWidget({ title: 'Bad lines / unreadable files', left: [custom('BadLines'), custom('BadFiles')] }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Execution time (ms)', left: [sm.metricTime({ statistic: 'p50' }), sm.metricTime({ statistic: 'Maximum' })] }),
      new cloudwatch.GraphWidget({
        title: 'Lambda duration p90 (ms)',
        left: [...workflow.steps(), ingest.function].map((f) => f.function.metricDuration({ statistic: 'p90', label: f.node.id })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda errors / throttles',
        left: all.map((f) => f.function.metricErrors({ label: `${f.node.id} errors` })),
        right: all.map((f) => f.function.metricThrottles({ label: `${f.node.id} throttles` })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Raw events queue',
        left: [ingest.queue.metricApproximateAgeOfOldestMessage()],
        right: [ingest.dlq.metricApproximateNumberOfMessagesVisible()],
      }),
    );
    if (config.rollup === 'hour') {
      dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: 'Hours committed', left: [custom('HoursCommitted')] }),
        new cloudwatch.GraphWidget({ title: 'Hour tier rows / files out', left: [custom('HourRowsOut')], right: [custom('HourFilesOut')] }),
        new cloudwatch.GraphWidget({ title: 'Hour tier bytes out', left: [custom('HourBytesOut')] }),
      );
    }
    dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }));
  }
}

/** A flowmerge/* metric the functions publish, per minute. */
function custom(name: string, statistic = 'Sum'): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName: metricName(name), statistic, period: Duration.minutes(1) });
}
