/** Reading the one-line-per-event logs: lines in a time window, and the busiest second. */
export interface LogLine {
  at: number;
  text: string;
}

export function logLines(output: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of output.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)$/.exec(line);
    if (m) out.push({ at: Date.parse(m[1]!), text: m[2]! });
  }
  return out;
}

/** Lines logged in [from, to) matching `re`, and the most in any one-second bucket. */
export function lineRate(output: string, from: number, to: number, re: RegExp = /./): { lines: number; busiestSecond: number } {
  const lines = logLines(output).filter((l) => l.at >= from && l.at < to && re.test(l.text));
  const buckets = new Map<number, number>();
  for (const l of lines) buckets.set(Math.floor(l.at / 1000), (buckets.get(Math.floor(l.at / 1000)) ?? 0) + 1);
  return { lines: lines.length, busiestSecond: Math.max(0, ...buckets.values()) };
}
