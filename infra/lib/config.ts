/**
 * Deployment configuration: read from CDK context (`-c key=value` or cdk.json),
 * with the defaults documented here and in the README's configuration table.
 */
import * as path from 'path';
import { Node } from 'constructs';
import { envDefault } from './contract';

export interface FlowmergeConfig {
  /** Existing bucket that receives the flow logs; when absent the stateful stack creates one. */
  readonly rawBucketName?: string;
  /** Key prefix of flow log objects in the raw bucket ("" = whole bucket). */
  readonly rawPrefix: string;
  /**
   * A second key prefix in the raw bucket, where Kinesis Data Firehose delivers
   * flow logs (JSON records or CloudWatch Logs payloads); outside `rawPrefix`.
   */
  readonly firehosePrefix?: string;
  /**
   * Formats of headerless sources (Firehose records, CloudWatch Logs events) as
   * the functions' FORMATS JSON: `{"default": "${version} ...", "rules":
   * [{"prefix": "<key or log-group prefix>", "format": "${...}"}]}`.
   */
  readonly formats?: string;
  /**
   * Window of Firehose-delivered records: `key` (the delivery minute in the
   * object's name) or `start` (each record's own start minute: ingest reads
   * every Firehose object to record it under the windows it spans).
   */
  readonly windowFrom: 'key' | 'start';
  /**
   * Tier above the minute: `hour` (each hour's committed minutes are merged
   * into hour files once the hour is done, queried as `flowlogs_hourly`) or
   * `none` (minutes only).
   */
  readonly rollup: 'hour' | 'none';
  /** Key prefix of everything flowmerge writes to the output bucket, concatenated as is ("" or e.g. "flowmerge/"). */
  readonly outputPrefix: string;
  /** Seconds after a window ends before the scheduler runs it. */
  readonly settleSeconds: number;
  /** Largest gap between the pieces of one flow that still merge, as the functions parse it ("60s", "2m", "none", "window"). */
  readonly maxGap: string;
  /** Target size of one output Parquet file in bytes. */
  readonly targetFileSize: number;
  /** MaxConcurrency of the Distributed Map (partial merges in flight per window). */
  readonly mapConcurrency: number;
  /** Execution type of the Distributed Map's child workflows: EXPRESS (cheaper) or STANDARD. */
  readonly childExecutionType: 'EXPRESS' | 'STANDARD';
  /** Directory holding `<function>/bootstrap` as built by `cargo lambda build --release --arm64`. */
  readonly lambdaAssetDir: string;
  /** How many times the redrive Lambda retries one failed window before leaving it to a human. */
  readonly maxRedriveAttempts: number;
  /** Window lag (seconds) above which the lag alarm fires. */
  readonly lagAlarmSeconds: number;
  /** X-Ray tracing on the functions and the state machine. */
  readonly tracing: boolean;
  /** Glue database holding the `flowlogs` table. */
  readonly glueDatabaseName: string;
}

/**
 * Defaults of the deployment. Those of the functions' own settings are the
 * functions' defaults (infra/contract.json); the rollup is on for AWS, where
 * the functions alone default to none.
 */
export const DEFAULTS = {
  rawPrefix: '',
  windowFrom: envDefault('WINDOW_FROM'),
  rollup: 'hour',
  outputPrefix: '',
  settleSeconds: Number(envDefault('SETTLE_SECONDS')),
  maxGap: envDefault('MAX_GAP'),
  targetFileSize: Number(envDefault('TARGET_FILE_SIZE')),
  mapConcurrency: 40,
  childExecutionType: 'EXPRESS',
  lambdaAssetDir: '../target/lambda',
  maxRedriveAttempts: Number(envDefault('MAX_ATTEMPTS')),
  lagAlarmSeconds: 1800,
  tracing: true,
  glueDatabaseName: 'flowmerge',
} as const;

function str(node: Node, key: string): string | undefined {
  const v = node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  return String(v);
}

function int(node: Node, key: string, dflt: number, min: number): number {
  const raw = str(node, key);
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`context ${key}=${raw}: expected an integer >= ${min}`);
  }
  return n;
}

function bool(node: Node, key: string, dflt: boolean): boolean {
  const raw = str(node, key);
  if (raw === undefined) return dflt;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new Error(`context ${key}=${raw}: expected true or false`);
}

/** The key prefixes S3 events are sent for ("" = the whole bucket), and the one the functions read under (RAW_PREFIX). */
export function inputPrefixes(config: FlowmergeConfig): { notify: string[]; root: string } {
  if (config.firehosePrefix === undefined) return { notify: [config.rawPrefix], root: config.rawPrefix };
  const [a, b] = [config.rawPrefix, config.firehosePrefix];
  let common = 0;
  while (common < Math.min(a.length, b.length) && a[common] === b[common]) common++;
  // The functions' keys are relative to a folder that holds both prefixes.
  const root = a.slice(0, a.slice(0, common).lastIndexOf('/') + 1);
  return { notify: [a, b], root };
}

/** The `formats` context as the FORMATS JSON; an object in cdk.json or JSON text with -c. */
function formats(node: Node): string | undefined {
  const raw = node.tryGetContext('formats');
  if (raw === undefined || raw === null || raw === '') return undefined;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new Error(`context formats=${raw}: not JSON (${(e as Error).message})`);
    }
  }
  const v = value as { default?: unknown; rules?: unknown };
  const rules = v.rules ?? [];
  const isRule = (r: unknown) => {
    const rule = r as { prefix?: unknown; format?: unknown };
    return typeof rule?.prefix === 'string' && typeof rule?.format === 'string';
  };
  const keys = typeof value === 'object' && value !== null ? Object.keys(value) : [];
  if (
    keys.some((k) => k !== 'default' && k !== 'rules') ||
    (v.default !== undefined && typeof v.default !== 'string') ||
    !Array.isArray(rules) ||
    !rules.every(isRule)
  ) {
    throw new Error(
      `context formats=${JSON.stringify(value)}: expected {"default": "\${version} ...", "rules": [{"prefix": "...", "format": "\${...}"}]}`,
    );
  }
  return JSON.stringify(value);
}

/** Reads the configuration from the CDK context of `node` (usually the App's). */
export function readConfig(node: Node, baseDir: string = process.cwd()): FlowmergeConfig {
  const outputPrefix = str(node, 'outputPrefix') ?? DEFAULTS.outputPrefix;
  // The prefix is spliced into a States.Format string in the state machine.
  if (/['{}\\]/.test(outputPrefix)) {
    throw new Error(`context outputPrefix=${outputPrefix}: must not contain quotes, braces or backslashes`);
  }
  const childExecutionType = str(node, 'childExecutionType') ?? DEFAULTS.childExecutionType;
  if (childExecutionType !== 'EXPRESS' && childExecutionType !== 'STANDARD') {
    throw new Error(`context childExecutionType=${childExecutionType}: expected EXPRESS or STANDARD`);
  }
  const maxGap = str(node, 'maxGap') ?? DEFAULTS.maxGap;
  // What the functions parse (merge::MaxGap); anything else would fail every window at cold start.
  if (!/^(none|window|\d+[sm]?)$/.test(maxGap)) {
    throw new Error(`context maxGap=${maxGap}: expected seconds (60, 60s), minutes (2m), none or window`);
  }
  const windowFrom = str(node, 'windowFrom') ?? DEFAULTS.windowFrom;
  if (windowFrom !== 'key' && windowFrom !== 'start') {
    throw new Error(`context windowFrom=${windowFrom}: expected key or start`);
  }
  const rollup = str(node, 'rollup') ?? DEFAULTS.rollup;
  if (rollup !== 'hour' && rollup !== 'none') {
    throw new Error(`context rollup=${rollup}: expected hour or none`);
  }
  const rawPrefix = str(node, 'rawPrefix') ?? DEFAULTS.rawPrefix;
  const firehosePrefix = str(node, 'firehosePrefix');
  if (firehosePrefix !== undefined) {
    // S3 refuses overlapping notification filters, and a prefix inside the
    // other is read already: either way the setting would do nothing.
    if (rawPrefix === '' || firehosePrefix.startsWith(rawPrefix) || rawPrefix.startsWith(firehosePrefix)) {
      throw new Error(
        `context firehosePrefix=${firehosePrefix}: must lie outside rawPrefix=${JSON.stringify(rawPrefix)}, which is read whole (with rawPrefix "" every key of the bucket is)`,
      );
    }
  }
  return {
    rawBucketName: str(node, 'rawBucketName'),
    rawPrefix,
    firehosePrefix,
    formats: formats(node),
    windowFrom,
    rollup,
    outputPrefix,
    settleSeconds: int(node, 'settleSeconds', DEFAULTS.settleSeconds, 0),
    maxGap,
    targetFileSize: int(node, 'targetFileSize', DEFAULTS.targetFileSize, 1),
    mapConcurrency: int(node, 'mapConcurrency', DEFAULTS.mapConcurrency, 1),
    childExecutionType,
    lambdaAssetDir: path.resolve(baseDir, str(node, 'lambdaAssetDir') ?? DEFAULTS.lambdaAssetDir),
    maxRedriveAttempts: int(node, 'maxRedriveAttempts', DEFAULTS.maxRedriveAttempts, 0),
    lagAlarmSeconds: int(node, 'lagAlarmSeconds', DEFAULTS.lagAlarmSeconds, 60),
    tracing: bool(node, 'tracing', DEFAULTS.tracing),
    glueDatabaseName: str(node, 'glueDatabaseName') ?? DEFAULTS.glueDatabaseName,
  };
}
