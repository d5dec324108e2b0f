/**
 * RustLambda: the one construct every flowmerge function is made with —
 * ARM64, `provided.al2023`, handler `bootstrap`, code from
 * `<lambdaAssetDir>/<name>/` (the layout of `cargo lambda build --release --arm64`),
 * JSON logs into a log group with retention, and a role of its own that starts
 * with nothing but writing to that log group; callers grant the rest.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { FlowmergeConfig } from './config';

export interface RustLambdaProps {
  /** Binary name: the folder under `functions/` and under the asset directory. */
  readonly name: string;
  /** Directory containing `<name>/bootstrap`. */
  readonly assetDir: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment?: Record<string, string>;
  /** X-Ray active tracing. */
  readonly tracing?: boolean;
  readonly logRetention?: logs.RetentionDays;
  readonly reservedConcurrentExecutions?: number;
}

export class RustLambda extends Construct {
  /** The binary's name (its folder under `functions/`). */
  public readonly name: string;
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RustLambdaProps) {
    super(scope, id);
    this.name = props.name;
    const codeDir = path.join(props.assetDir, props.name);
    if (!fs.existsSync(path.join(codeDir, 'bootstrap'))) {
      throw new Error(
        `${codeDir}/bootstrap not found: build the functions with ` +
          '`cargo lambda build --release --arm64` or pass -c lambdaAssetDir=<dir>',
      );
    }

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // An explicit role instead of AWSLambdaBasicExecutionRole: logs only to
    // this function's own group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `flowmerge ${props.name}`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.function = new lambda.Function(this, 'Function', {
      description: props.description,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(codeDir),
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      environment: props.environment,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      logGroup: this.logGroup,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    });

    if (props.tracing) {
      NagSuppressions.addResourceSuppressions(
        this.role,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              'X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions.',
            appliesTo: ['Resource::*'],
          },
        ],
        true,
      );
    }
  }

  /** Allows this function `actions` on `resources` (its role starts with nothing else). */
  public allow(actions: string[], resources: string[]): void {
    this.role.addToPolicy(new iam.PolicyStatement({ actions, resources }));
  }
}

/**
 * A flowmerge function as the deployment builds it: code from the
 * configured asset directory, tracing as configured, and its construct id
 * from its name (`partial-merge` -> `PartialMerge`).
 */
export function flowmergeFunction(
  scope: Construct,
  config: FlowmergeConfig,
  props: Omit<RustLambdaProps, 'assetDir' | 'tracing'>,
): RustLambda {
  const id = props.name
    .split('-')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
  return new RustLambda(scope, id, { ...props, assetDir: config.lambdaAssetDir, tracing: config.tracing });
}
