#!/usr/bin/env node
// Runs the adversarial cases (dist/test/adversarial/*.adv.js) one file at a time, then prints every
// figure they measured and the run time. Not part of `npm test`: `npm run test:adversarial [filter]`.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caseFiles, runEach } from '../serial.js';

const files = caseFiles('adversarial', '.adv.js', 'adversarial cases');
const tmp = mkdtempSync(join(tmpdir(), 'tun-adv-'));
const report = join(tmp, 'figures.txt');
const { status, times } = runEach(files, 240_000, { TUN_ADV_REPORT: report });
console.log('\n=== adversarial figures ===');
if (existsSync(report)) process.stdout.write(readFileSync(report, 'utf8'));
console.log('=== run times ===');
for (const line of times) console.log(line);
rmSync(tmp, { recursive: true, force: true });
process.exit(status);
