/** Template assertions on the properties that matter for flowmerge. */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { FLOWLOG_COLUMNS, FUNCTION_ENV } from '../lib/contract';
import { DEFAULTS } from '../lib/config';
import { FUNCTIONS, roleActions, synthApp } from './helpers';

const built = synthApp();
const stateful = Template.fromStack(built.stateful);
const pipeline = Template.fromStack(built.pipeline);

const FORMATS = {
  default: '${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}',
  rules: [{ prefix: '/vpc/flowlogs/custom', format: '${interface-id} ${srcaddr} ${start} ${end}' }],
};

/** The environment variables of the function whose logical id starts with `prefix`. */
function variables(t: Template, prefix: string): Record<string, string> {
  const f = Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith(prefix));
  return f![1].Properties.Environment.Variables;
}

describe('stateful stack', () => {
  test('ledger table matches the Rust DynamoLedger layout and is retained', () => {
    stateful.resourceCountIs('AWS::DynamoDB::Table', 1);
    stateful.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'due_pk', AttributeType: 'S' },
          { AttributeName: 'due_sk', AttributeType: 'S' },
        ]),
        GlobalSecondaryIndexes: [
          {
            IndexName: 'due',
            KeySchema: [
              { AttributeName: 'due_pk', KeyType: 'HASH' },
              { AttributeName: 'due_sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    });
  });

  test('every bucket blocks public access, is encrypted, TLS-only and retained', () => {
    const buckets = stateful.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets).sort()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^RawBucket/), expect.stringMatching(/^OutputBucket/)]),
    );
    for (const [id, bucket] of Object.entries(buckets)) {
      expect([id, bucket.DeletionPolicy]).toEqual([id, 'Retain']);
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
      const rules = bucket.Properties.LifecycleConfiguration.Rules;
      expect(rules.some((r: { AbortIncompleteMultipartUpload?: unknown }) => r.AbortIncompleteMultipartUpload)).toBe(true);
      // A bucket policy on this bucket denies requests without TLS.
      const policies = Object.values(stateful.findResources('AWS::S3::BucketPolicy')).filter(
        (p) => p.Properties.Bucket.Ref === id,
      );
      expect(policies).toHaveLength(1);
      expect(policies[0].Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      );
    }
  });

  test('output bucket is unversioned (re-runs overwrite; superseded files are deleted)', () => {
    const output = Object.entries(stateful.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith('OutputBucket'));
    expect(output).toBeDefined();
    expect(output![1].Properties.VersioningConfiguration).toBeUndefined();
    // Old manifests expire after the 90 days of execution history; nothing else does.
    const expiring = output![1].Properties.LifecycleConfiguration.Rules.filter((r: { ExpirationInDays?: number }) => r.ExpirationInDays);
    expect(expiring).toEqual([expect.objectContaining({ Prefix: '_flowmerge/manifests/', ExpirationInDays: 90, Status: 'Enabled' })]);
  });

  test('an imported raw bucket is not created, and its notification still goes to the queue', () => {
    const imported = synthApp({ rawBucketName: 'acme-flow-logs', rawPrefix: 'AWSLogs/' }, false);
    const s = Template.fromStack(imported.stateful);
    expect(Object.keys(s.findResources('AWS::S3::Bucket')).some((id) => id.startsWith('RawBucket'))).toBe(false);
    const p = Template.fromStack(imported.pipeline);
    p.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: 'acme-flow-logs',
      Managed: false,
      NotificationConfiguration: {
        QueueConfigurations: [
          Match.objectLike({
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'AWSLogs/' }] } },
          }),
        ],
      },
    });
    p.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ RAW_BUCKET: 'acme-flow-logs', RAW_PREFIX: 'AWSLogs/' }) },
    });
  });
});

describe('pipeline stack', () => {
  test('the concerns are wired in place: what holds messages, logs or a name keeps the logical id of a deployed stack', () => {
    const kept = ['AWS::SQS::Queue', 'AWS::Logs::LogGroup', 'AWS::StepFunctions::StateMachine', 'AWS::CloudWatch::Dashboard', 'AWS::Lambda::Function'];
    const ids = Object.entries(pipeline.toJSON().Resources as Record<string, { Type: string }>)
      .filter(([id, r]) => kept.includes(r.Type) && !id.startsWith('BucketNotificationsHandler'))
      .map(([id]) => id)
      .sort();
    expect(ids).toEqual([
      'CombineCommitFunction663770AF',
      'CombineCommitLogs89E52523',
      'Dashboard9E4231ED',
      'IngestFunctionB02ED0EB',
      'IngestLogs41B5EF21',
      'ListBatchFunctionDF9A3205',
      'ListBatchLogsAA3B780A',
      'PartialMergeFunction064F55E7',
      'PartialMergeLogsE6E0263D',
      'RawEvents8257B1D2',
      'RawEventsDlqAF6FE373',
      'RedriveFunctionCBF4F39B',
      'RedriveLogs2926F170',
      'SchedulerFunctionA1BD39EF',
      'SchedulerLogs5CBD4DC7',
      'StateMachineLogs3CB16D3C',
      'WindowStateMachineC165BA8F',
    ]);
  });

  test('every function is ARM64 provided.al2023 with handler bootstrap and JSON logs', () => {
    const fns = Object.entries(pipeline.findResources('AWS::Lambda::Function')).filter(
      ([id]) => !id.startsWith('BucketNotificationsHandler'),
    );
    expect(fns).toHaveLength(FUNCTIONS.length);
    for (const [, f] of fns) {
      expect(f.Properties.Architectures).toEqual(['arm64']);
      expect(f.Properties.Runtime).toBe('provided.al2023');
      expect(f.Properties.Handler).toBe('bootstrap');
      expect(f.Properties.LoggingConfig).toEqual(expect.objectContaining({ LogFormat: 'JSON', LogGroup: expect.anything() }));
      expect(f.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    }
    pipeline.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('outputs name what the CLI needs', () => {
    const outputs = pipeline.toJSON().Outputs;
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['StateMachineArn', 'TableName', 'RawLocation', 'OutputLocation']));
    expect(outputs.StateMachineArn.Value.Ref).toMatch(/^WindowStateMachine/);
  });

  test('environment variables per function', () => {
    const env = (prefix: string) => {
      const f = Object.entries(pipeline.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith(prefix));
      return Object.keys(f![1].Properties.Environment.Variables).sort();
    };
    const common = ['OUTPUT_BUCKET', 'OUTPUT_PREFIX', 'RAW_BUCKET', 'RAW_PREFIX', 'TABLE_NAME'];
    expect(env('IngestFunction')).toEqual(['RAW_PREFIX', 'TABLE_NAME']);
    expect(env('SchedulerFunction')).toEqual(['SETTLE_SECONDS', 'STATE_MACHINE_ARN', 'TABLE_NAME']);
    expect(env('RedriveFunction')).toEqual(['MAX_ATTEMPTS', 'STATE_MACHINE_ARN', 'TABLE_NAME']);
    // The settings every step of a run uses travel in list-batch's manifest,
    // so the steps after it are not given them.
    expect(env('PartialMergeFunction')).toEqual(common);
    // ...except the rollup, which combine-commit acts on (a minute joins its hour).
    expect(env('CombineCommitFunction')).toEqual([...common, 'ROLLUP'].sort());
    expect(env('ListBatchFunction')).toEqual([...common, 'MAX_GAP', 'TARGET_FILE_SIZE'].sort());
  });

  test('each function is given exactly the variables its Rust side reads (infra/contract.json), in every setting', () => {
    const functionId = (name: string) => name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('') + 'Function';
    expect(Object.keys(FUNCTION_ENV).sort()).toEqual([...FUNCTIONS].sort());
    const settings = [
      {},
      { rollup: 'none' },
      { maxGap: 'window', targetFileSize: 1048576, formats: FORMATS },
      { windowFrom: 'start', formats: FORMATS, firehosePrefix: 'firehose/', rawPrefix: 'AWSLogs/' },
    ];
    for (const context of settings) {
      const t = Template.fromStack(synthApp(context, false).pipeline);
      for (const [name, { env }] of Object.entries(FUNCTION_ENV)) {
        const given = Object.keys(variables(t, functionId(name))).sort();
        const read = env.map((v) => v.name);
        const required = env.filter((v) => v.required).map((v) => v.name);
        // Set but never read: a setting that would silently do nothing.
        expect({ name, context, unread: given.filter((v) => !read.includes(v)) }).toEqual({ name, context, unread: [] });
        // Read but not set: the function would run on a default the deployment never chose.
        expect({ name, context, unset: required.filter((v) => !given.includes(v)) }).toEqual({ name, context, unset: [] });
      }
    }
  });

  test("the deployment's defaults of the functions' settings are the functions' own", () => {
    const given = (id: string) => variables(pipeline, id);
    expect(given('ListBatchFunction').MAX_GAP).toBe('60s');
    expect(given('ListBatchFunction').TARGET_FILE_SIZE).toBe(String(256 * 1024 * 1024));
    expect(given('SchedulerFunction').SETTLE_SECONDS).toBe('600');
    expect(given('RedriveFunction').MAX_ATTEMPTS).toBe('3');
    expect(DEFAULTS.windowFrom).toBe('key');
  });

  test('logs: the level and format come from the Lambda logging configuration, which the functions read', () => {
    const ours = Object.values(pipeline.findResources('AWS::Lambda::Function')).filter((f) => f.Properties.Handler === 'bootstrap');
    expect(ours).toHaveLength(FUNCTIONS.length);
    for (const f of ours) {
      expect(f.Properties.LoggingConfig).toEqual(expect.objectContaining({ LogFormat: 'JSON', ApplicationLogLevel: 'INFO' }));
    }
  });

  test('least privilege: no role of ours writes to or deletes from the raw bucket', () => {
    // The CDK notification handler only manages the bucket's notification configuration.
    const ours = Object.entries(pipeline.findResources('AWS::IAM::Policy')).filter(([id]) => !id.startsWith('RawBucketNotifications'));
    expect(ours).toHaveLength(7);
    for (const [, p] of ours) {
      for (const s of p.Properties.PolicyDocument.Statement) {
        const acts = [s.Action].flat();
        if (JSON.stringify(s.Resource).includes('RawBucket')) {
          expect(acts.filter((a: string) => a.startsWith('s3:') && a !== 's3:GetObject' && a !== 's3:ListBucket')).toEqual([]);
        }
      }
    }
  });

  test('Glue table: Parquet SerDe, AWS flow log columns, partition projection over the output layout', () => {
    pipeline.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'flowlogs',
        PartitionKeys: ['year', 'month', 'day', 'hour'].map((n) => ({ Name: n, Type: 'string' })),
        StorageDescriptor: Match.objectLike({
          Columns: FLOWLOG_COLUMNS.map(({ name, type }) => ({ Name: name, Type: type })),
          SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        }),
        Parameters: Match.objectLike({
          'projection.enabled': 'true',
          'projection.year.digits': '4',
          'projection.hour.range': '0,23',
          'projection.hour.digits': '2',
        }),
      }),
    });
    const table = Object.values(pipeline.findResources('AWS::Glue::Table'))[0];
    const template = JSON.stringify(table.Properties.TableInput.Parameters['storage.location.template']);
    expect(template).toMatch(/flowlogs\/year=\$\{year\}\/month=\$\{month\}\/day=\$\{day\}\/hour=\$\{hour\}\/"/);
    expect(template).toContain('s3://');
    expect(FLOWLOG_COLUMNS.map(({ name }) => name)).toEqual(
      expect.arrayContaining(['end', 'records', 'traffic_path', 'flow_direction', 'ecs_cluster_name', 'reject_reason']),
    );
    expect(FLOWLOG_COLUMNS).toHaveLength(73);
  });

  test('the hour tier: its own Glue table over its own prefix, the same columns; rollup=none leaves it and its grants out', () => {
    pipeline.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'flowlogs_hourly',
        StorageDescriptor: Match.objectLike({ Columns: FLOWLOG_COLUMNS.map(({ name, type }) => ({ Name: name, Type: type })) }),
      }),
    });
    const byName = (t: Template) =>
      Object.fromEntries(
        Object.values(t.findResources('AWS::Glue::Table')).map((r) => [
          r.Properties.TableInput.Name,
          JSON.stringify(r.Properties.TableInput.Parameters['storage.location.template']),
        ]),
      );
    const locations = byName(pipeline);
    expect(Object.keys(locations).sort()).toEqual(['flowlogs', 'flowlogs_hourly']);
    expect(locations.flowlogs_hourly).toMatch(/\/flowlogs-hourly\/year=\$\{year\}\/month=\$\{month\}\/day=\$\{day\}\/hour=\$\{hour\}\/"/);
    expect(locations.flowlogs).not.toContain('hourly');
    pipeline.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ROLLUP: 'hour' }) },
    });

    const minutesOnly = Template.fromStack(synthApp({ rollup: 'none' }, false).pipeline);
    expect(Object.keys(byName(minutesOnly))).toEqual(['flowlogs']);
    minutesOnly.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ROLLUP: 'none' }) },
    });
    expect(roleActions(minutesOnly, 'SchedulerRole')).toEqual(['dynamodb:Query', 'states:StartExecution']);
    expect(roleActions(minutesOnly, 'ListBatchRole')).not.toContain('s3:ListBucket');
    expect(roleActions(minutesOnly, 'CombineCommitRole').filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    expect(() => synthApp({ rollup: 'day' }, false)).toThrow(/rollup=day: expected hour or none/);
  });

  test('output prefix is applied to the Glue location and the state machine substitution', () => {
    const prefixed = synthApp({ outputPrefix: 'compacted/' }, false);
    const p = Template.fromStack(prefixed.pipeline);
    const params = Object.values(p.findResources('AWS::Glue::Table'))[0].Properties.TableInput.Parameters;
    expect(JSON.stringify(params['storage.location.template'])).toContain('/compacted/flowlogs/year=${year}');
    p.hasResourceProperties('AWS::StepFunctions::StateMachine', { DefinitionSubstitutions: Match.objectLike({ OutputPrefix: 'compacted/' }) });
  });

  test('Athena workgroup is enforced and encrypted, with three named queries', () => {
    pipeline.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        ResultConfiguration: Match.objectLike({ EncryptionConfiguration: { EncryptionOption: 'SSE_S3' } }),
      }),
    });
    pipeline.resourceCountIs('AWS::Athena::NamedQuery', 3);
  });

  test('bad configuration is refused', () => {
    expect(() => synthApp({ childExecutionType: 'FAST' }, false)).toThrow(/childExecutionType/);
    expect(() => synthApp({ maxGap: '1h' }, false)).toThrow(/maxGap/);
    expect(() => synthApp({ mapConcurrency: '0' }, false)).toThrow(/mapConcurrency/);
    expect(() => synthApp({ outputPrefix: "it's/" }, false)).toThrow(/outputPrefix/);
    expect(() => synthApp({ lambdaAssetDir: '/nonexistent' }, false)).toThrow(/bootstrap not found/);
  });
});

describe('delivery paths', () => {
  test('a Firehose prefix gets its own S3 notification and read grant; the functions read under the common root', () => {
    const app = synthApp({ rawPrefix: 'logs/AWSLogs/', firehosePrefix: 'logs/firehose/' }, false);
    const p = Template.fromStack(app.pipeline);
    p.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: ['logs/AWSLogs/', 'logs/firehose/'].map((prefix) =>
          Match.objectLike({ Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: prefix }] } } }),
        ),
      },
    });
    for (const fn of ['IngestFunction', 'ListBatchFunction', 'PartialMergeFunction', 'CombineCommitFunction']) {
      expect(variables(p, fn).RAW_PREFIX).toBe('logs/');
    }
    const policy = Object.entries(p.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('PartialMergeRole'));
    const reads = policy![1].Properties.PolicyDocument.Statement.find(
      (s: { Action: unknown }) => s.Action === 's3:GetObject' && JSON.stringify(s).includes('logs/firehose/*'),
    );
    expect(JSON.stringify(reads.Resource)).toContain('logs/AWSLogs/*');
  });

  test('formats reach list-batch, which writes them into every run\'s manifest, and no other function (ingest too with windowFrom=start)', () => {
    for (const formats of [FORMATS, JSON.stringify(FORMATS)]) {
      const p = Template.fromStack(synthApp({ formats }, false).pipeline);
      expect(JSON.parse(variables(p, 'ListBatchFunction').FORMATS)).toEqual(FORMATS);
      for (const fn of ['IngestFunction', 'PartialMergeFunction', 'CombineCommitFunction', 'SchedulerFunction']) {
        expect(variables(p, fn).FORMATS).toBeUndefined();
      }
    }
  });

  test('windows from each record\'s start: ingest reads the raw objects with the formats, sized for Firehose buffers', () => {
    const p = Template.fromStack(synthApp({ windowFrom: 'start', formats: FORMATS, firehosePrefix: 'firehose/', rawPrefix: 'AWSLogs/' }, false).pipeline);
    const ingest = variables(p, 'IngestFunction');
    expect(ingest.WINDOW_FROM).toBe('start');
    expect(JSON.parse(ingest.FORMATS)).toEqual(FORMATS);
    const fn = Object.entries(p.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('IngestFunction'));
    expect(fn![1].Properties.MemorySize).toBeGreaterThanOrEqual(1769);
    const policy = Object.entries(p.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('IngestRole'));
    const reads = policy![1].Properties.PolicyDocument.Statement.find((s: { Action: unknown }) => s.Action === 's3:GetObject');
    expect(JSON.stringify(reads.Resource)).toContain('firehose/*');
    expect(JSON.stringify(reads.Resource)).toContain('AWSLogs/*');
    for (const other of ['ListBatchFunction', 'PartialMergeFunction', 'CombineCommitFunction', 'SchedulerFunction']) {
      expect(variables(p, other).WINDOW_FROM).toBeUndefined();
    }

    const byKey = Template.fromStack(synthApp({ formats: FORMATS }, false).pipeline);
    expect(variables(byKey, 'IngestFunction').WINDOW_FROM).toBeUndefined();
    const keyPolicy = Object.entries(byKey.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('IngestRole'));
    expect(JSON.stringify(keyPolicy![1].Properties.PolicyDocument)).not.toContain('s3:GetObject');
  });

  test('delivery settings that would do nothing or cannot be read are refused', () => {
    expect(() => synthApp({ windowFrom: 'record' }, false)).toThrow(/windowFrom=record: expected key or start/);
    expect(() => synthApp({ firehosePrefix: 'firehose/' }, false)).toThrow(/firehosePrefix.*outside rawPrefix/);
    expect(() => synthApp({ rawPrefix: 'logs/', firehosePrefix: 'logs/firehose/' }, false)).toThrow(/firehosePrefix/);
    expect(() => synthApp({ formats: '{"default": ' }, false)).toThrow(/formats.*not JSON/);
    expect(() => synthApp({ formats: { rules: [{ prefix: 'x/' }] } }, false)).toThrow(/formats/);
    expect(() => synthApp({ formats: { defaults: 'typo' } }, false)).toThrow(/formats/);
  });
});
