#!/usr/bin/env node
/**
 * flowmerge CDK app. Configuration comes from CDK context (`-c key=value`):
 * every key, its default and its meaning are in lib/config.ts and the
 * README's configuration table (a jest test holds the two together).
 */
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';

const app = new App();
buildApp(app);
app.synth();
