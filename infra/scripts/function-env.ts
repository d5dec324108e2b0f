/**
 * Prints what the synthesised pipeline stack gives each function and the
 * state machine, for a deployment with the CDK context given as JSON:
 *
 *   npx ts-node --transpile-only scripts/function-env.ts '{"maxGap": "window"}'
 *   {"functions": {"list-batch": {"MAX_GAP": "window", ...}, ...},
 *    "definition": "{...ASL with ${placeholders}...}",
 *    "substitutions": {"MapConcurrency": "40", ...},
 *    "ingestBatch": {"BatchSize": 100, "MaximumBatchingWindowInSeconds": 5, ...},
 *    "memory": {"ingest": 256, ...}}
 *
 * A value that names another resource (a table, a bucket, a function ARN)
 * stays the CloudFormation expression of the template. The local AWS of the
 * end-to-end tests starts its functions with this environment, so a scenario
 * exercises the settings the way a deployment receives them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';
import { cdkJsonContext, writePlaceholderAssets } from './offline';

function main(contextJson: string): void {
  const infra = path.join(__dirname, '..');
  const assets = fs.mkdtempSync(path.join(os.tmpdir(), 'flowmerge-assets-'));
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowmerge-cdkout-'));
  try {
    writePlaceholderAssets(assets);
    const app = new App({
      outdir,
      context: {
        ...cdkJsonContext(),
        ...JSON.parse(contextJson),
        lambdaAssetDir: assets,
      },
    });
    const { pipeline } = buildApp(app, { nag: false, baseDir: infra });
    const resources = app.synth().getStackByName(pipeline.stackName).template.Resources;
    const properties = (resource: CfnResource) => resources[Stack.of(resource).getLogicalId(resource)].Properties;
    const fn = (f: { function: { node: { defaultChild?: unknown } } }) =>
      properties(f.function.node.defaultChild as CfnResource);
    const functions = Object.fromEntries(
      Object.values(pipeline.functions).map((f) => [f.name, fn(f).Environment?.Variables ?? {}]),
    );
    const memory = Object.fromEntries(Object.values(pipeline.functions).map((f) => [f.name, fn(f).MemorySize]));
    const stateMachine = properties(pipeline.stateMachine.node.defaultChild as CfnResource);
    const ingestBatch = Object.values(resources).find(
      (r: any) => r.Type === 'AWS::Lambda::EventSourceMapping',
    ) as { Properties: Record<string, unknown> };
    process.stdout.write(
      JSON.stringify({
        functions,
        definition: stateMachine.DefinitionString,
        substitutions: stateMachine.DefinitionSubstitutions,
        ingestBatch: ingestBatch.Properties,
        memory,
      }) + '\n',
    );
  } finally {
    fs.rmSync(assets, { recursive: true, force: true });
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

main(process.argv[2] ?? '{}');
