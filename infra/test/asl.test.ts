/**
 * The state machine file statemachines/window.asl.json: placeholders match
 * the stack's substitutions, it validates, every Lambda task retries
 * transient errors, and failure handling mirrors the Rust ledger's `fail`.
 */
import * as fs from 'fs';
import { ASL_PATH, definition as deployedDefinition } from '../lib/window-workflow';
import contract from '../contract.json';
import { synthApp } from './helpers';

// asl-validator ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const aslValidator: (definition: unknown) => { isValid: boolean; errorsText: (sep?: string) => string } = require('asl-validator');

const raw = fs.readFileSync(ASL_PATH, 'utf8');
const placeholders = new Set([...raw.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]));
const built = synthApp({}, false);
const substitutions = built.pipeline.definitionSubstitutions;

/** Sample values standing in for the tokens (ARNs, names) CloudFormation fills in at deploy time. */
const SAMPLE: Record<string, string> = {
  ListBatchFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:list-batch',
  PartialMergeFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:partial-merge',
  CombineCommitFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:combine-commit',
  OutputBucket: 'flowmerge-output',
  TableName: 'flowmerge-ledger',
};

/** The definition the stack deploys, with its substitutions made. */
function substituted(): string {
  return deployedDefinition(built.config).replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const v = substitutions[name];
    if (v === undefined) throw new Error(`no substitution for \${${name}}`);
    // Tokens (unresolved ARNs/names) get sample values; plain strings are used as is.
    return v.includes('${Token[') ? SAMPLE[name] : v;
  });
}

type State = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function allStates(def: { States: Record<string, State> }, out: Array<[string, State]> = []): Array<[string, State]> {
  for (const [name, state] of Object.entries(def.States)) {
    out.push([name, state]);
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner) allStates(inner, out);
    for (const branch of state.Branches ?? []) allStates(branch, out);
  }
  return out;
}

const definition = JSON.parse(substituted());
const states = allStates(definition);
const isLambdaTask = (s: State) =>
  s.Type === 'Task' && (String(s.Resource).startsWith('arn:aws:states:::lambda:invoke') || String(s.Resource).startsWith('arn:aws:lambda:'));

test('every ${X} in the ASL has a substitution and every substitution is used', () => {
  expect([...placeholders].sort()).toEqual(Object.keys(substitutions).sort());
  expect(placeholders.size).toBeGreaterThanOrEqual(7);
});

test('no placeholder survives substitution and no concrete ARN is in the file', () => {
  expect(substituted()).not.toContain('${');
  expect(raw).not.toMatch(/arn:aws:(lambda|dynamodb|s3|sqs):/);
});

test('the file itself is JSON, readable by jq and Workflow Studio, placeholders inside strings', () => {
  expect(() => JSON.parse(raw)).not.toThrow();
  expect(raw).not.toMatch(/:\s*\$\{/);
});

test('asl-validator accepts the file as committed, placeholders and all', () => {
  const result = aslValidator(JSON.parse(raw));
  expect(result.errorsText()).toBe('');
  expect(result.isValid).toBe(true);
});

test('the map concurrency reaches the Distributed Map as a number, through ListBatch\'s result', () => {
  expect(definition.States.ListBatch.ResultSelector['concurrency.$']).toBe(
    `States.StringToJson('${built.config.mapConcurrency}')`,
  );
  expect(definition.States.MergeGroups.MaxConcurrencyPath).toBe('$.batch.concurrency');
  expect(definition.States.MergeGroups.MaxConcurrency).toBeUndefined();
});

test('asl-validator accepts the substituted definition', () => {
  const result = aslValidator(definition);
  expect(result.errorsText()).toBe('');
  expect(result.isValid).toBe(true);
});

test('asl-validator rejects a broken definition (the check above can fail)', () => {
  const broken = JSON.parse(JSON.stringify(definition));
  broken.States.ListBatch.Next = 'NoSuchState';
  expect(aslValidator(broken).isValid).toBe(false);
});

test('the three step functions are Lambda tasks, including the one inside the Distributed Map', () => {
  const lambdaTasks = states.filter(([, s]) => isLambdaTask(s)).map(([n]) => n);
  expect(lambdaTasks.sort()).toEqual(['CombineAndCommit', 'ListBatch', 'PartialMerge']);
});

test('every Lambda task has the standard transient Retry and the Retryable/Incomplete Retry', () => {
  const transient = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];
  for (const [name, s] of states.filter(([, st]) => isLambdaTask(st))) {
    const retry: State[] = s.Retry ?? [];
    const std = retry.find((r) => transient.every((e) => r.ErrorEquals.includes(e)));
    expect([name, std && { i: std.IntervalSeconds, b: std.BackoffRate, m: std.MaxAttempts, j: std.JitterStrategy }]).toEqual([
      name,
      { i: 1, b: 2, m: 6, j: 'FULL' },
    ]);
    const ours = retry.find((r) => r.ErrorEquals.includes('Retryable') && r.ErrorEquals.includes('Incomplete'));
    expect([name, ours && { b: ours.BackoffRate > 1, m: ours.MaxAttempts, j: ours.JitterStrategy }]).toEqual([name, { b: true, m: 3, j: 'FULL' }]);
  }
});

test('MergeGroups is a Distributed Map reading the item list from the output bucket, results discarded', () => {
  const map = definition.States.MergeGroups;
  expect(map.Type).toBe('Map');
  expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' });
  expect(map.ItemReader).toEqual({
    Resource: 'arn:aws:states:::s3:getObject',
    ReaderConfig: { InputType: 'JSON' },
    Parameters: { Bucket: SAMPLE.OutputBucket, 'Key.$': "States.Format('{}', $.batch.items)" },
  });
  expect(map.MaxConcurrencyPath).toBe('$.batch.concurrency');
  expect(map.ResultPath).toBeNull();
  expect(raw).toContain("States.Format('${OutputPrefix}{}', $.batch.items)");
});

test('ListBatch result goes to $.batch; CombineAndCommit gets only the manifest key', () => {
  expect(definition.States.ListBatch.ResultPath).toBe('$.batch');
  expect(Object.keys(definition.States.ListBatch.ResultSelector).sort()).toEqual(
    ['bytes.$', 'concurrency.$', 'digest.$', 'files.$', 'groups.$', 'items.$', 'manifest.$', 'version.$', 'window.$'],
  );
  expect(definition.States.CombineAndCommit.Parameters.Payload).toEqual({ 'manifest.$': '$.batch.manifest' });
  expect(definition.States.CombineAndCommit.Next).toBe('WindowDone');
  expect(definition.States.WindowDone.Type).toBe('Succeed');
});

test('catches: ListBatch fails directly, later steps record the failure first', () => {
  const catchTo = (n: string) => definition.States[n].Catch.map((c: State) => [c.ErrorEquals, c.ResultPath, c.Next]);
  expect(catchTo('ListBatch')).toEqual([[['States.ALL'], '$.error', 'WindowFailed']]);
  expect(catchTo('MergeGroups')).toEqual([[['States.ALL'], '$.error', 'RecordFailure']]);
  expect(catchTo('CombineAndCommit')).toEqual([[['States.ALL'], '$.error', 'RecordFailure']]);
  expect(definition.States.WindowFailed).toEqual(expect.objectContaining({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' }));
  for (const [name, s] of states) expect([name, typeof s.Comment]).toEqual([name, 'string']);
});

test("RecordFailure marks the window failed as the Rust DynamoDB ledger's fail does (infra/contract.json)", () => {
  const fail = contract.ledger.fail;
  const rf = definition.States.RecordFailure;
  expect(rf.Resource).toBe('arn:aws:states:::dynamodb:updateItem');
  const p = rf.Parameters;
  expect(p.TableName).toBe(SAMPLE.TableName);
  const format = (template: string) => `States.Format('${template.replace('{window}', '{}')}', $.batch.window)`;
  expect(p.Key).toEqual({ pk: { 'S.$': format(fail.key.pk) }, sk: { S: fail.key.sk } });
  expect(p.ConditionExpression).toBe(fail.condition);
  // The one difference: JSONPath cannot produce epoch seconds, so updated_at keeps the claim's time.
  const stamp = ', #updated_at = :now';
  expect(fail.update).toContain(stamp);
  expect(p.UpdateExpression).toBe(fail.update.replace(stamp, ''));
  const placeholders = (kind: string) =>
    [...`${p.UpdateExpression} ${p.ConditionExpression}`.matchAll(new RegExp(`${kind}[a-z_]+`, 'g'))].map((m) => m[0]).sort();
  expect(Object.keys(p.ExpressionAttributeNames).sort()).toEqual([...new Set(placeholders('#'))]);
  for (const [name, attribute] of Object.entries(p.ExpressionAttributeNames)) expect(`#${attribute}`).toBe(name);
  const v = p.ExpressionAttributeValues;
  expect(Object.keys(v).sort()).toEqual([...new Set(placeholders(':'))]);
  for (const [name, value] of Object.entries(fail.values)) expect(v[name]).toEqual({ S: value });
  expect(v[':version']).toEqual({ 'N.$': "States.Format('{}', $.batch.version)" });
  expect(v[':window']).toEqual({ 'S.$': '$.batch.window' });
  expect(rf.Next).toBe('WindowFailed');
  expect(rf.Catch[0].Next).toBe('WindowFailed');
  // The original error must survive a failed RecordFailure.
  expect(rf.Catch[0].ResultPath).not.toBe('$.error');
});

test('selectors and payloads match the Rust payload fixtures (tests/fixtures/payloads)', () => {
  const fixture = (name: string) => {
    const p = `${__dirname}/../../tests/fixtures/payloads/${name}.json`;
    return JSON.parse(fs.readFileSync(p, 'utf8'));
  };
  const selected = (sel: Record<string, string>) => Object.keys(sel).map((k) => k.replace(/\.\$$/, '')).sort();
  const paths = (sel: Record<string, string>) => Object.values(sel).map((v) => v.replace(/^\$\.Payload\./, '')).sort();
  // ListBatch selects every field of ListBatchResponse, under the same names
  // (and adds the deployment's map concurrency).
  const { 'concurrency.$': _concurrency, ...lb } = definition.States.ListBatch.ResultSelector;
  expect(selected(lb)).toEqual(Object.keys(fixture('list-batch-response')).sort());
  expect(paths(lb)).toEqual(Object.keys(fixture('list-batch-response')).sort());
  // CombineAndCommit and PartialMerge select fields that their responses have.
  const cc = definition.States.CombineAndCommit.ResultSelector;
  expect(Object.keys(fixture('combine-response'))).toEqual(expect.arrayContaining(paths(cc)));
  const pm = definition.States.MergeGroups.ItemProcessor.States.PartialMerge.ResultSelector;
  expect(Object.keys(fixture('partial-merge-response'))).toEqual(expect.arrayContaining(paths(pm)));
  // CombineAndCommit's payload is exactly a CombineRequest; the Map's items are PartialMergeRequests.
  expect(Object.keys(definition.States.CombineAndCommit.Parameters.Payload).map((k) => k.replace(/\.\$$/, ''))).toEqual(
    Object.keys(fixture('combine-request')),
  );
  expect(Object.keys(fixture('partial-merge-request')).sort()).toEqual(['group', 'manifest']);
});
