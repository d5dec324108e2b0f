/**
 * The scheduler: every minute, a Lambda starts an execution of the window
 * workflow for every window that is due (settled, or dirtied by a late file).
 */
import { Duration } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { Concern } from './concern';
import { FlowmergeConfig } from './config';
import { flowmergeFunction, RustLambda } from './rust-lambda';
import { WindowWorkflow } from './window-workflow';

export interface SchedulerProps {
  readonly config: FlowmergeConfig;
  readonly table: dynamodb.ITable;
  readonly workflow: WindowWorkflow;
}

export class Scheduler extends Concern {
  public readonly function: RustLambda;

  constructor(scope: Construct, id: string, props: SchedulerProps) {
    super(scope, id);
    const { config, table, workflow } = props;
    // It publishes WindowLagSeconds as embedded metric format log lines.
    this.function = flowmergeFunction(this, config, {
      name: 'scheduler',
      description: 'Starts an execution for every window that is due',
      memorySize: 256,
      timeout: Duration.seconds(55),
      environment: {
        TABLE_NAME: table.tableName,
        STATE_MACHINE_ARN: workflow.stateMachineArn,
        SETTLE_SECONDS: String(config.settleSeconds),
      },
    });
    if (config.rollup === 'hour') {
      // An hour is due once none of its minutes waits or runs.
      this.function.allow(['dynamodb:GetItem'], [table.tableArn]);
    }
    this.function.allow(['dynamodb:Query'], [`${table.tableArn}/index/due`]);
    this.function.allow(['states:StartExecution'], [workflow.stateMachineArn]);

    new events.Rule(this, 'EveryMinute', {
      description: 'flowmerge: start due windows',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.function.function, { retryAttempts: 2 })],
    });
  }
}
