/** The scheduler on its own: a rule every minute, and a function that may only query due windows and start executions. */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Scheduler } from '../lib/scheduler';
import { WindowWorkflow } from '../lib/window-workflow';
import { concernStack, roleActions } from './helpers';

function scheduler(context: Record<string, unknown> = {}): Template {
  const parts = concernStack(context);
  const workflow = new WindowWorkflow(parts.stack, 'Workflow', parts);
  new Scheduler(parts.stack, 'Scheduling', { ...parts, workflow });
  return Template.fromStack(parts.stack);
}

const template = scheduler();

test('the scheduler runs every minute, retried twice', () => {
  template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: 'rate(1 minute)',
    Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SchedulerFunction'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2 } })],
  });
});

test('it starts executions of the window state machine, named by the ARN it is given', () => {
  const fn = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('SchedulerFunction'))![1];
  const env = fn.Properties.Environment.Variables;
  expect(JSON.stringify(env.STATE_MACHINE_ARN)).toContain(':stateMachine:Concern-window');
  expect(env.SETTLE_SECONDS).toBe('600');
  expect(scheduler({ settleSeconds: 90 }).findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: Match.objectLike({ SETTLE_SECONDS: '90' }) } },
  })).not.toEqual({});
});

test('it queries the due index and starts executions; with the hour tier it also reads the hour\'s minutes', () => {
  expect(roleActions(template, 'SchedulerRole')).toEqual(['dynamodb:GetItem', 'dynamodb:Query', 'states:StartExecution']);
  expect(roleActions(scheduler({ rollup: 'none' }), 'SchedulerRole')).toEqual(['dynamodb:Query', 'states:StartExecution']);
  const policy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('SchedulerRole'))![1];
  const query = policy.Properties.PolicyDocument.Statement.find((s: { Action: string }) => s.Action === 'dynamodb:Query');
  expect(JSON.stringify(query.Resource)).toContain('/index/due');
});
