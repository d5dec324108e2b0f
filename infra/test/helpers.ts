/** Shared fixtures: synthesise the app against placeholder Lambda assets. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { buildApp, FlowmergeApp } from '../lib/app';

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

export const FUNCTIONS = ['ingest', 'list-batch', 'partial-merge', 'combine-commit', 'scheduler', 'redrive'];

/** A temporary directory with `<name>/bootstrap` placeholders: tests check the template, not the binaries. */
export function placeholderAssets(): string {
  const dir = tempDir('flowmerge-assets-');
  for (const name of FUNCTIONS) {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'bootstrap'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  }
  return dir;
}

export function synthApp(context: Record<string, unknown> = {}, nag = true): FlowmergeApp {
  const app = new App({
    outdir: tempDir('flowmerge-cdkout-'),
    context: {
      // The same feature flags as `cdk synth` (cdk.json), so tests see the deployed template.
      ...JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context,
      lambdaAssetDir: placeholderAssets(),
      ...context,
    },
  });
  return buildApp(app, { nag });
}
