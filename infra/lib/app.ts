/** Builds the flowmerge stacks into an App; shared by bin/flowmerge.ts and the tests. */
import { App, Aspects, Tags } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FlowmergeConfig, readConfig } from './config';
import { PipelineStack } from './pipeline-stack';
import { StatefulStack } from './stateful-stack';

export interface FlowmergeApp {
  readonly config: FlowmergeConfig;
  readonly stateful: StatefulStack;
  readonly pipeline: PipelineStack;
}

/**
 * Adds both stacks to `app`. The stacks are environment-agnostic (no
 * account/region), so `cdk synth` works offline without credentials.
 */
export function buildApp(app: App, opts: { nag?: boolean; baseDir?: string } = {}): FlowmergeApp {
  const config = readConfig(app.node, opts.baseDir);
  const stateful = new StatefulStack(app, 'FlowmergeStateful', {
    config,
    description: 'flowmerge: buckets and the ledger table (retained)',
  });
  const pipeline = new PipelineStack(app, 'FlowmergePipeline', {
    config,
    description: 'flowmerge: queues, Rust Lambdas, per-minute state machine, alarms, Glue/Athena',
    rawBucketName: stateful.rawBucketName,
    outputBucket: stateful.outputBucket,
    queryResultsBucket: stateful.queryResultsBucket,
    table: stateful.table,
  });
  pipeline.addStackDependency(stateful);
  Tags.of(app).add('project', 'flowmerge');
  if (opts.nag ?? true) {
    Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  }
  return { config, stateful, pipeline };
}
