/**
 * The query layer over the output: the Glue database, one table per tier
 * (`flowlogs` over the minutes, `flowlogs_hourly` over the hours when the
 * rollup is on) with every catalogue column and partition projection, the
 * Athena workgroup and its saved queries. Columns and table roots come from
 * the Rust side (infra/contract.json).
 */
import { Aws } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { Concern } from './concern';
import { FlowmergeConfig } from './config';
import { FLOWLOG_COLUMNS, GLUE_TABLES } from './contract';

export interface QueryLayerProps {
  readonly config: FlowmergeConfig;
  readonly outputBucket: s3.IBucket;
  readonly queryResultsBucket: s3.IBucket;
  /** Name of the Athena workgroup. */
  readonly workGroupName: string;
}

/**
 * Its resources have names of their own (a database, tables, a workgroup),
 * which CloudFormation cannot replace in place; as a {@link Concern} they
 * keep the logical ids they would have at the stack's top level. One query
 * layer per stack.
 */
export class QueryLayer extends Concern {
  constructor(scope: Construct, id: string, props: QueryLayerProps) {
    super(scope, id);
    const { config, outputBucket, queryResultsBucket } = props;
    const database = new glue.CfnDatabase(this, 'GlueDatabase', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: config.glueDatabaseName, description: 'flowmerge compacted VPC Flow Logs' },
    });
    // One table per tier, each over its own files: a query sees every
    // record once, from minutes (current) or from complete hours.
    const descriptions = {
      minute: 'VPC Flow Logs compacted per minute by flowmerge (Parquet, AWS column names)',
      hour: 'VPC Flow Logs rolled up per hour by flowmerge from the minute tier (Parquet, AWS column names)',
    };
    const tables = Object.entries(GLUE_TABLES).filter(([, t]) => config.rollup === 'hour' || t.tier === 'minute');
    for (const [name, { root, tier }] of tables) {
      const location = `s3://${outputBucket.bucketName}/${config.outputPrefix}${root}`;
      const glueTable = new glue.CfnTable(this, tier === 'minute' ? 'FlowLogsTable' : 'FlowLogsHourlyTable', {
        catalogId: Aws.ACCOUNT_ID,
        databaseName: config.glueDatabaseName,
        tableInput: {
          name,
          description: descriptions[tier],
          tableType: 'EXTERNAL_TABLE',
          parameters: {
            classification: 'parquet',
            EXTERNAL: 'TRUE',
            'parquet.compression': 'ZSTD',
            'projection.enabled': 'true',
            'projection.year.type': 'integer',
            'projection.year.range': '2020,2100',
            'projection.year.digits': '4',
            'projection.month.type': 'integer',
            'projection.month.range': '1,12',
            'projection.month.digits': '2',
            'projection.day.type': 'integer',
            'projection.day.range': '1,31',
            'projection.day.digits': '2',
            'projection.hour.type': 'integer',
            'projection.hour.range': '0,23',
            'projection.hour.digits': '2',
            'storage.location.template': location + 'year=${year}/month=${month}/day=${day}/hour=${hour}/',
          },
          partitionKeys: ['year', 'month', 'day', 'hour'].map((key) => ({ name: key, type: 'string' })),
          storageDescriptor: {
            location,
            columns: [...FLOWLOG_COLUMNS],
            inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          },
        },
      });
      glueTable.addResourceDependency(database);
    }

    const workgroup = new athena.CfnWorkGroup(this, 'AthenaWorkGroup', {
      name: props.workGroupName,
      description: 'flowmerge queries',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        resultConfiguration: {
          outputLocation: `s3://${queryResultsBucket.bucketName}/results/`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });
    const table_ = `"${config.glueDatabaseName}"."flowlogs"`;
    const lastDay = `year = date_format(current_date, '%Y') AND month = date_format(current_date, '%m') AND day = date_format(current_date, '%d')`;
    const queries: Array<[string, string, string]> = [
      [
        'top-talkers',
        'Top 25 source/destination pairs by bytes today',
        `SELECT srcaddr, dstaddr, sum(bytes) AS bytes, sum(packets) AS packets, sum(records) AS records\nFROM ${table_}\nWHERE ${lastDay}\nGROUP BY srcaddr, dstaddr\nORDER BY bytes DESC\nLIMIT 25;`,
      ],
      [
        'rejected-traffic',
        'Rejected flows today by destination port',
        `SELECT account_id, vpc_id, dstaddr, dstport, protocol, sum(packets) AS packets, sum(records) AS records\nFROM ${table_}\nWHERE ${lastDay} AND action = 'REJECT'\nGROUP BY account_id, vpc_id, dstaddr, dstport, protocol\nORDER BY packets DESC\nLIMIT 100;`,
      ],
      [
        'traffic-by-account',
        'Bytes and packets per account today',
        `SELECT account_id, sum(bytes) AS bytes, sum(packets) AS packets, sum(records) AS records\nFROM ${table_}\nWHERE ${lastDay}\nGROUP BY account_id\nORDER BY bytes DESC;`,
      ],
    ];
    for (const [name, description, queryString] of queries) {
      const q = new athena.CfnNamedQuery(this, `Query-${name}`, {
        name: `flowmerge ${name}`,
        description,
        database: config.glueDatabaseName,
        workGroup: workgroup.name,
        queryString,
      });
      q.addResourceDependency(workgroup);
      q.addResourceDependency(database);
    }
  }
}
