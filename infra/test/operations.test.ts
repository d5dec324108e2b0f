/** Operations on their own: the alarms, the redrive function they trigger, and the dashboard. */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { METRIC_NAMESPACE, METRICS } from '../lib/contract';
import { RawEventsIngest } from '../lib/ingest';
import { Operations } from '../lib/operations';
import { Scheduler } from '../lib/scheduler';
import { WindowWorkflow } from '../lib/window-workflow';
import { concernStack, roleActions } from './helpers';

function operations(context: Record<string, unknown> = {}): Template {
  const parts = concernStack(context);
  const ingest = new RawEventsIngest(parts.stack, 'Ingest', parts);
  const workflow = new WindowWorkflow(parts.stack, 'Workflow', parts);
  const scheduler = new Scheduler(parts.stack, 'Scheduling', { ...parts, workflow });
  const { listBatch, partialMerge, combineCommit } = workflow;
  new Operations(parts.stack, 'Operations', {
    ...parts,
    ingest,
    workflow,
    functions: { ingest: ingest.function, listBatch, partialMerge, combineCommit, scheduler: scheduler.function },
  });
  return Template.fromStack(parts.stack);
}

const template = operations();

test('alarms: failed executions, DLQ depth, window lag', () => {
  template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
  template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'AWS/States',
    MetricName: 'ExecutionsFailed',
    Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: Match.stringLikeRegexp('^WindowStateMachine') } }],
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  });
  template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'AWS/SQS',
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RawEventsDlq'), 'QueueName'] } }],
    Threshold: 1,
  });
  template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: METRIC_NAMESPACE, MetricName: 'WindowLagSeconds', Threshold: 1800 });
  operations({ lagAlarmSeconds: 600 }).hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'WindowLagSeconds', Threshold: 600 });
});

test('redrive listens to ALARM state changes of exactly these alarms', () => {
  const rule = Object.values(template.findResources('AWS::Events::Rule')).find((r) => r.Properties.EventPattern)!;
  const pattern = rule.Properties.EventPattern;
  expect(pattern['detail-type']).toEqual(['CloudWatch Alarm State Change']);
  expect(pattern.detail).toEqual({ state: { value: ['ALARM'] } });
  const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm')).sort();
  expect(pattern.resources.map((r: { 'Fn::GetAtt': string[] }) => r['Fn::GetAtt'][0]).sort()).toEqual(alarms);
  expect(rule.Properties.Targets[0].Arn['Fn::GetAtt'][0]).toMatch(/^RedriveFunction/);
});

test('redrive may list, start, describe and redrive executions of the window state machine only', () => {
  expect(roleActions(template, 'RedriveRole')).toEqual(
    ['dynamodb:GetItem', 'states:DescribeExecution', 'states:ListExecutions', 'states:RedriveExecution', 'states:StartExecution'],
  );
  const policy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('RedriveRole'))![1];
  for (const s of policy.Properties.PolicyDocument.Statement) {
    if ([s.Action].flat().some((a: string) => a.startsWith('states:'))) expect(JSON.stringify(s.Resource)).toContain('Concern-window');
  }
});

test('the dashboard, named after the stack, graphs only metrics the functions publish, the hour tier when it is on', () => {
  const read = (t: Template) => {
    const [dashboard] = Object.values(t.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboard.Properties.DashboardName).toBe('Concern');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    return new Set([...body.matchAll(new RegExp(`\\\\"${METRIC_NAMESPACE}\\\\",\\\\"([A-Za-z]+)\\\\"`, 'g'))].map((m) => m[1]));
  };
  const published = new Set(METRICS.map((m) => m.name));
  const hour = read(template);
  expect([...hour].filter((name) => !published.has(name))).toEqual([]);
  expect([...hour]).toEqual(expect.arrayContaining(['HoursCommitted', 'RecordsIn', 'WindowLagSeconds', 'WindowsCommitted']));
  expect([...read(operations({ rollup: 'none' }))].filter((name) => name.startsWith('Hour'))).toEqual([]);
});
