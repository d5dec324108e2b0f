#!/usr/bin/env node
/**
 * flowmerge CDK app. Configuration comes from CDK context (`-c key=value`);
 * every key and its default is documented in lib/config.ts and the README:
 *
 *   rawBucketName       (none: create a raw bucket)  existing bucket receiving flow logs
 *   rawPrefix           ""                           key prefix of flow logs in it
 *   firehosePrefix      (none)                       second prefix in it, where Firehose delivers
 *   formats             (version 2)                  formats of headerless sources (FORMATS JSON)
 *   windowFrom          key                          window of Firehose records: key minute or each record's start
 *   outputPrefix        ""                           key prefix of everything flowmerge writes
 *   settleSeconds       600                          wait after a window ends before running it
 *   maxGap              "60"                         largest gap between pieces of one flow that merge
 *   targetFileSize      268435456                    target output Parquet file size (bytes)
 *   mapConcurrency      40                           Distributed Map MaxConcurrency
 *   childExecutionType  EXPRESS                      Distributed Map child type (EXPRESS | STANDARD)
 *   lambdaAssetDir      ../target/lambda             cargo lambda build --release --arm64 output
 *   maxRedriveAttempts  3                            redrives per failed window
 *   lagAlarmSeconds     1800                         window lag alarm threshold
 *   tracing             true                         X-Ray on functions and state machine
 *   glueDatabaseName    flowmerge                    Glue database of the `flowlogs` table
 */
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';

const app = new App();
buildApp(app);
app.synth();
