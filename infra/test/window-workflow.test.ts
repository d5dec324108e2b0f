/** The window workflow on its own: the state machine, its role and log group, and the grants of the steps it chains. */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { WindowWorkflow } from '../lib/window-workflow';
import { concernStack, roleActions } from './helpers';

function workflow(context: Record<string, unknown> = {}): Template {
  const parts = concernStack(context);
  new WindowWorkflow(parts.stack, 'Workflow', parts);
  return Template.fromStack(parts.stack);
}

const template = workflow();

test('state machine: STANDARD, named after the stack, from the ASL file with substitutions, ERROR logs with data, tracing', () => {
  template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
    StateMachineName: 'Concern-window',
    StateMachineType: 'STANDARD',
    DefinitionString: Match.stringLikeRegexp('"ExecutionType": "EXPRESS"'),
    DefinitionSubstitutions: Match.objectLike({ MapConcurrency: '40', OutputPrefix: '', TableName: 'ledger' }),
    LoggingConfiguration: Match.objectLike({ Level: 'ERROR', IncludeExecutionData: true }),
    TracingConfiguration: { Enabled: true },
  });
  template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/vendedlogs/states/Concern-window' });
  workflow({ tracing: 'false', mapConcurrency: 7, childExecutionType: 'STANDARD' }).hasResourceProperties('AWS::StepFunctions::StateMachine', {
    DefinitionString: Match.stringLikeRegexp('"ExecutionType": "STANDARD"'),
    DefinitionSubstitutions: Match.objectLike({ MapConcurrency: '7' }),
    TracingConfiguration: { Enabled: false },
  });
});

test('the state machine invokes exactly its three steps and manages its own child executions', () => {
  const policy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('StateMachineRole'))![1];
  const statements: Array<{ Action: string | string[]; Resource: unknown }> = policy.Properties.PolicyDocument.Statement;
  const invoke = statements.find((s) => s.Action === 'lambda:InvokeFunction')!;
  const targets = [invoke.Resource].flat().map((r) => JSON.stringify(r));
  expect(targets).toHaveLength(3);
  for (const step of ['ListBatchFunction', 'PartialMergeFunction', 'CombineCommitFunction']) {
    expect(targets.filter((t) => t.includes(step))).toHaveLength(1);
  }
  const start = statements.find((s) => s.Action === 'states:StartExecution')!;
  expect(JSON.stringify(start.Resource)).toContain(':stateMachine:Concern-window');
  expect(roleActions(template, 'StateMachineRole')).toEqual([
    'dynamodb:UpdateItem',
    'lambda:InvokeFunction',
    's3:GetObject',
    'states:DescribeExecution',
    'states:RedriveExecution',
    'states:StartExecution',
    'states:StopExecution',
  ]);
});

test('each step has exactly its actions; the hour tier adds its own and rollup=none leaves them out', () => {
  const steps = (t: Template) => ({
    listBatch: roleActions(t, 'ListBatchRole'),
    partialMerge: roleActions(t, 'PartialMergeRole'),
    combineCommit: roleActions(t, 'CombineCommitRole'),
  });
  expect(steps(template)).toEqual({
    listBatch: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 's3:ListBucket', 's3:PutObject'],
    partialMerge: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListBucket', 's3:PutObject'],
    combineCommit: [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:TransactWriteItems',
      'dynamodb:UpdateItem',
      's3:AbortMultipartUpload',
      's3:DeleteObject',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
    ],
  });
  expect(steps(workflow({ rollup: 'none' }))).toEqual({
    listBatch: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 's3:PutObject'],
    partialMerge: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListBucket', 's3:PutObject'],
    combineCommit: [
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      's3:AbortMultipartUpload',
      's3:DeleteObject',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
    ],
  });
});

test('only partial-merge reads raw objects, under every delivery prefix, and none writes them', () => {
  const t = workflow({ firehosePrefix: 'firehose/', rawPrefix: 'AWSLogs/' });
  const rawGrants = Object.entries(t.findResources('AWS::IAM::Policy')).flatMap(([id, p]) =>
    p.Properties.PolicyDocument.Statement.filter((s: { Resource: unknown }) => JSON.stringify(s.Resource).includes(':::raw/')).map(
      (s: { Action: string | string[]; Resource: unknown }) => ({ id: id.replace(/[0-9A-F]{8}$/, ''), action: s.Action, resources: s.Resource }),
    ),
  );
  expect(rawGrants).toHaveLength(1);
  expect(rawGrants[0].id).toBe('PartialMergeRoleDefaultPolicy');
  expect(rawGrants[0].action).toBe('s3:GetObject');
  expect(JSON.stringify(rawGrants[0].resources)).toMatch(/:::raw\/AWSLogs\/\*.*:::raw\/firehose\/\*/);
});
