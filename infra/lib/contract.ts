/**
 * What the stack must agree with the Rust code on, read from
 * infra/contract.json (written by the Rust side; never typed here): the
 * output columns and Glue tables, the variables each function reads with
 * their defaults, and the metrics the functions publish.
 */
import contract from '../contract.json';

/** A variable a function reads. */
export interface EnvVar {
  readonly name: string;
  /** Whether the stack must set it. */
  readonly required: boolean;
  /** What the function takes when it is unset (null: no setting of its own). */
  readonly default: string | null;
}

/**
 * Columns of the output: every field of the Rust catalogue (dashes as
 * underscores) and `records`, with Athena types.
 */
export const FLOWLOG_COLUMNS: ReadonlyArray<{ name: string; type: string }> = contract.glue.columns;

/** The Glue tables, each over one tier's files (roots from the Rust layout). */
export const GLUE_TABLES = contract.glue.tables as Readonly<Record<string, { root: string; tier: 'minute' | 'hour' }>>;

/** The variables of each function, by its name under `functions/`. */
export const FUNCTION_ENV = contract.functions as Readonly<Record<string, { env: ReadonlyArray<EnvVar> }>>;

/** Namespace of the metrics the functions publish. */
export const METRIC_NAMESPACE: string = contract.metrics.namespace;

/** Every metric the functions publish, with its CloudWatch unit. */
export const METRICS: ReadonlyArray<{ name: string; unit: string }> = contract.metrics.names;

/** The name of a metric the functions publish; throws on any other, so a dashboard cannot graph a metric nobody writes. */
export function metricName(name: string): string {
  if (!METRICS.some((m) => m.name === name)) {
    throw new Error(`no function publishes the metric ${METRIC_NAMESPACE}/${name} (infra/contract.json)`);
  }
  return name;
}

/** The functions' own default of a variable (the same for every function reading it). */
export function envDefault(name: string): string {
  const values = new Set(
    Object.values(FUNCTION_ENV)
      .flatMap((f) => f.env)
      .filter((v) => v.name === name)
      .map((v) => v.default),
  );
  const [value] = [...values];
  if (values.size !== 1 || value === null || value === undefined) {
    throw new Error(`infra/contract.json has no single default for ${name}`);
  }
  return value;
}
