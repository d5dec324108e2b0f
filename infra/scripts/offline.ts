/**
 * What synthesising the app offline needs, for the tests and
 * scripts/function-env.ts: placeholder Lambda assets (the template does not
 * depend on the binaries) and cdk.json's feature flags, so the template is
 * the one `cdk synth` makes.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The functions, by their folder under `functions/`. */
export const FUNCTIONS = ['ingest', 'list-batch', 'partial-merge', 'combine-commit', 'scheduler', 'redrive'];

/** Writes `<name>/bootstrap` placeholders for every function into `dir`. */
export function writePlaceholderAssets(dir: string): void {
  for (const name of FUNCTIONS) {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'bootstrap'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  }
}

/** The context of cdk.json (feature flags). */
export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context;
}
