/** The README's configuration table is the deployment's own: every context key the app reads, with the default it takes. */
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { DEFAULTS, readConfig } from '../lib/config';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
const section = readme.split('### Configuration (`-c key=value`)')[1].split('\n### ')[0];
const rows = new Map([...section.matchAll(/^\| `(\w+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2].trim()]));

test('README documents every context key the app reads, and no other', () => {
  const keys = Object.keys(readConfig(new App().node));
  expect([...rows.keys()].sort()).toEqual(keys.sort());
});

test('README gives each key the default the app takes', () => {
  for (const [key, value] of Object.entries(DEFAULTS)) {
    expect([key, rows.get(key)]).toEqual([key, `\`${value === '' ? '""' : value}\``]);
  }
});
