/** Raw-events ingest on its own: the queue and its DLQ, the S3 notifications, the ingest function and its grants. */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RawEventsIngest } from '../lib/ingest';
import { concernStack, roleActions } from './helpers';

function ingest(context: Record<string, unknown> = {}): Template {
  const parts = concernStack(context);
  new RawEventsIngest(parts.stack, 'Ingest', parts);
  return Template.fromStack(parts.stack);
}

const template = ingest();

test('the raw events queue has a DLQ (maxReceiveCount 5); both are encrypted and TLS-only', () => {
  template.hasResourceProperties('AWS::SQS::Queue', {
    RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RawEventsDlq'), 'Arn'] }, maxReceiveCount: 5 },
  });
  template.resourceCountIs('AWS::SQS::Queue', 2);
  template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy'));
  expect(policies).toHaveLength(2);
  for (const p of policies) {
    expect(p.Properties.PolicyDocument.Statement).toEqual(
      expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
    );
  }
});

test('the queue outlives six ingest timeouts (AWS advice for SQS event sources), also when ingest reads Firehose objects', () => {
  for (const [context, timeout] of [[{}, 60], [{ windowFrom: 'start', firehosePrefix: 'firehose/', rawPrefix: 'AWSLogs/' }, 300]] as const) {
    const t = ingest(context);
    t.hasResourceProperties('AWS::Lambda::Function', { Timeout: timeout });
    t.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 6 * timeout, RedrivePolicy: Match.anyValue() });
  }
});

test('ingest consumes the queue in batches and reports batch item failures', () => {
  template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    FunctionName: { Ref: Match.stringLikeRegexp('^IngestFunction') },
    EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RawEvents[0-9A-F]'), 'Arn'] },
    BatchSize: 100,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
  });
});

test('ObjectCreated notifications of every delivery prefix go to the raw events queue', () => {
  const queues = (t: Template) =>
    Object.values(t.findResources('Custom::S3BucketNotifications')).flatMap((n) => n.Properties.NotificationConfiguration.QueueConfigurations);
  expect(queues(template)).toEqual([
    { Events: ['s3:ObjectCreated:*'], QueueArn: { 'Fn::GetAtt': [expect.stringMatching(/^RawEvents[0-9A-F]/), 'Arn'] } },
  ]);
  const prefixes = queues(ingest({ firehosePrefix: 'firehose/', rawPrefix: 'AWSLogs/' })).map(
    (q) => q.Filter.Key.FilterRules[0].Value,
  );
  expect(prefixes.sort()).toEqual(['AWSLogs/', 'firehose/']);
});

test('ingest writes the ledger and reads no object, unless it windows records by their start', () => {
  expect(roleActions(template, 'IngestRole')).toEqual([
    'dynamodb:PutItem',
    'dynamodb:Query',
    'dynamodb:TransactWriteItems',
    'dynamodb:UpdateItem',
    'sqs:ChangeMessageVisibility',
    'sqs:DeleteMessage',
    'sqs:GetQueueAttributes',
    'sqs:GetQueueUrl',
    'sqs:ReceiveMessage',
  ]);
  const splits = roleActions(ingest({ windowFrom: 'start', firehosePrefix: 'firehose/', rawPrefix: 'AWSLogs/' }), 'IngestRole');
  expect(splits.filter((a) => a.startsWith('s3:'))).toEqual(['s3:GetObject', 's3:ListBucket']);
});
