/** The query layer on its own: one Glue table per tier, named resources at their original logical ids. */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ConcernStack } from '../lib/concern';
import { readConfig } from '../lib/config';
import { FLOWLOG_COLUMNS, GLUE_TABLES } from '../lib/contract';
import { QueryLayer } from '../lib/query-layer';

function layer(context: Record<string, string>): Template {
  const app = new App({ context });
  const stack = new ConcernStack(app, 'Query');
  new QueryLayer(stack, 'Layer', {
    config: readConfig(app.node),
    outputBucket: s3.Bucket.fromBucketName(stack, 'Out', 'out'),
    queryResultsBucket: s3.Bucket.fromBucketName(stack, 'Results', 'results'),
    workGroupName: 'flowmerge',
  });
  return Template.fromStack(stack);
}

test('a table per tier the deployment writes, over the roots the Rust layout names', () => {
  const tables = (t: Template) =>
    Object.values(t.findResources('AWS::Glue::Table')).map((r) => r.Properties.TableInput.StorageDescriptor.Location);
  const roots = Object.fromEntries(Object.entries(GLUE_TABLES).map(([name, { root }]) => [name, `s3://out/${root}`]));
  expect(tables(layer({ rollup: 'hour' })).sort()).toEqual([roots.flowlogs, roots.flowlogs_hourly].sort());
  expect(tables(layer({ rollup: 'none' }))).toEqual([roots.flowlogs]);
  expect(tables(layer({ rollup: 'none', outputPrefix: 'fm/' }))).toEqual([`s3://out/fm/${GLUE_TABLES.flowlogs.root}`]);
  for (const table of Object.values(layer({}).findResources('AWS::Glue::Table'))) {
    expect(table.Properties.TableInput.StorageDescriptor.Columns).toHaveLength(FLOWLOG_COLUMNS.length);
  }
});

test('named resources keep the logical ids a deployed stack has, so moving them replaces nothing', () => {
  const ids = Object.keys(layer({ rollup: 'hour' }).toJSON().Resources).sort();
  expect(ids).toEqual(
    ['AthenaWorkGroup', 'FlowLogsHourlyTable', 'FlowLogsTable', 'GlueDatabase', 'Queryrejectedtraffic', 'Querytoptalkers', 'Querytrafficbyaccount'].sort(),
  );
});
