/** Every figure a case measures is printed, and collected for the runner's summary. */
import { appendFileSync } from 'node:fs';
import type { Snapshot } from './measure.js';
import { mib } from './measure.js';

export function figure(caseName: string, text: string): void {
  const line = `[${caseName}] ${text}`;
  console.log(line);
  if (process.env.TUN_ADV_REPORT) appendFileSync(process.env.TUN_ADV_REPORT, line + '\n');
}

export function usage(caseName: string, who: string, before: Snapshot, peak: Snapshot, after: Snapshot): void {
  figure(caseName, `${who}: fds ${before.fds} -> peak ${peak.fds} -> after ${after.fds}; rss ${mib(before.rssKb)} -> peak ${mib(peak.rssKb)} -> after ${mib(after.rssKb)}`);
}
