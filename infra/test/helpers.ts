/** Shared fixtures: synthesise the app, or one concern alone, against placeholder Lambda assets. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { buildApp, FlowmergeApp } from '../lib/app';
import { ConcernStack } from '../lib/concern';
import { FlowmergeConfig, inputPrefixes, readConfig } from '../lib/config';
import { RawInput } from '../lib/ingest';
import { cdkJsonContext, writePlaceholderAssets } from '../scripts/offline';

/** Temporary directories made by the importing test file, removed after it. */
const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export { FUNCTIONS } from '../scripts/offline';

/** A temporary directory with `<name>/bootstrap` placeholders: tests check the template, not the binaries. */
export function placeholderAssets(): string {
  const dir = tempDir('flowmerge-assets-');
  writePlaceholderAssets(dir);
  return dir;
}

export function synthApp(context: Record<string, unknown> = {}, nag = true): FlowmergeApp {
  const app = new App({
    outdir: tempDir('flowmerge-cdkout-'),
    context: {
      // The same feature flags as `cdk synth` (cdk.json), so tests see the deployed template.
      ...cdkJsonContext(),
      lambdaAssetDir: placeholderAssets(),
      ...context,
    },
  });
  return buildApp(app, { nag });
}

/** A stack holding one concern alone, over imported buckets and table, with its configuration from `context`. */
export function concernStack(context: Record<string, unknown> = {}): ConcernParts {
  const app = new App({ context: { lambdaAssetDir: placeholderAssets(), ...context } });
  const stack = new ConcernStack(app, 'Concern');
  const config = readConfig(app.node);
  return {
    stack,
    config,
    raw: { bucket: s3.Bucket.fromBucketName(stack, 'RawBucket', 'raw'), ...inputPrefixes(config) },
    outputBucket: s3.Bucket.fromBucketName(stack, 'OutputBucket', 'out'),
    table: dynamodb.Table.fromTableName(stack, 'Table', 'ledger'),
  };
}

export interface ConcernParts {
  readonly stack: ConcernStack;
  readonly config: FlowmergeConfig;
  readonly raw: RawInput;
  readonly outputBucket: s3.IBucket;
  readonly table: dynamodb.ITable;
}

/** The actions a role's policy allows (X-Ray and log actions aside), sorted. */
export function roleActions(template: Template, rolePrefix: string): string[] {
  const policy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith(rolePrefix));
  const set = new Set<string>();
  for (const s of policy![1].Properties.PolicyDocument.Statement) {
    expect(s.Effect).toBe('Allow');
    for (const a of [s.Action].flat()) set.add(a);
  }
  return [...set].filter((a) => !a.startsWith('xray:') && !a.startsWith('logs:')).sort();
}
