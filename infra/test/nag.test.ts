/** cdk-nag AwsSolutions: no unsuppressed errors or warnings; every suppression has a reason. */
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { Stack } from 'aws-cdk-lib';
import { synthApp } from './helpers';

const built = synthApp();

describe.each([
  ['stateful', built.stateful],
  ['pipeline', built.pipeline],
])('cdk-nag on the %s stack', (_, stack: Stack) => {
  test('no unsuppressed errors', () => {
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${e.entry.data}`)).toEqual([]);
  });

  test('no unsuppressed warnings', () => {
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(warnings.map((w) => `${w.id}: ${w.entry.data}`)).toEqual([]);
  });

  test('every suppression names a rule and gives a written reason', () => {
    const found: Array<{ id: string; reason: string }> = [];
    for (const c of stack.node.findAll()) {
      const cfn = c as unknown as { cfnOptions?: { metadata?: Record<string, unknown> } };
      const meta = cfn.cfnOptions?.metadata?.cdk_nag as { rules_to_suppress?: Array<{ id: string; reason: string }> } | undefined;
      for (const r of meta?.rules_to_suppress ?? []) found.push(r);
    }
    const stackMeta = (stack.templateOptions.metadata?.cdk_nag ?? {}) as { rules_to_suppress?: Array<{ id: string; reason: string }> };
    found.push(...(stackMeta.rules_to_suppress ?? []));
    for (const r of found) {
      expect(r.id).toMatch(/^AwsSolutions-[A-Za-z]+\d+$/);
      expect(r.reason.length).toBeGreaterThan(40);
    }
  });
});

test('the pipeline stack does suppress something (the reason check above is not vacuous)', () => {
  const ids = built.pipeline.node
    .findAll()
    .flatMap((c) => ((c as unknown as { cfnOptions?: { metadata?: { cdk_nag?: { rules_to_suppress?: Array<{ id: string }> } } } }).cfnOptions?.metadata?.cdk_nag?.rules_to_suppress ?? []).map((r) => r.id));
  expect(ids).toEqual(expect.arrayContaining(['AwsSolutions-IAM5', 'AwsSolutions-SF1', 'AwsSolutions-SQS3']));
});

test('cdk-nag stays clean with an imported raw bucket, prefixes, STANDARD children and tracing off', () => {
  const variant = synthApp({
    rawBucketName: 'acme-flow-logs',
    rawPrefix: 'AWSLogs/',
    outputPrefix: 'compacted/',
    childExecutionType: 'STANDARD',
    tracing: 'false',
  });
  for (const stack of [variant.stateful, variant.pipeline]) {
    const a = Annotations.fromStack(stack);
    const findings = [
      ...a.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...a.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ];
    expect(findings.map((f) => `${f.id}: ${String(f.entry.data).slice(0, 120)}`)).toEqual([]);
  }
});
