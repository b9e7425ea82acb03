#!/usr/bin/env node
// Runs the P2P scenarios (dist/test/p2p/*.p2p.js) one file at a time in network namespaces (root
// only: `ip`, `iptables`), then prints the run time of each. Not part of `npm test`:
// `npm run test:p2p [filter]`. A case that cannot build its namespaces fails; nothing skips.
import { caseFiles, runEach } from '../serial.js';

const { status, times } = runEach(caseFiles('p2p', '.p2p.js', 'P2P scenarios'), 180_000);
console.log('\n=== P2P run times ===');
for (const line of times) console.log(line);
process.exit(status);
