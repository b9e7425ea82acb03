/** Known defects in code this suite does not own, found by these cases (see lib/checks.ts). */
/**
 * KNOWN_RSS_NOT_HEAP: RSS after 10,000 streams without a forced GC moves with V8's and the
 * allocator's retention, not with live objects: run in one process with --expose-gc, 12,000
 * streams through one session keep the heap flat at 7.4 MiB (2,000: 7.53, 12,000: 7.36 MiB)
 * while RSS grows 87 -> 101 MiB. A per-process GC hook would make this check exact.
 */
export const KNOWN_BACKOFF_SPREAD =
  'the first retry after a lost session is drawn uniformly from 0.25-8 s (src/client/client.ts), so 30 clients land about 4 a second; random clustering still puts 8 of 30 (27 %) into one second now and then, against 25 %. A wider window would pass always but slow every single client\'s reconnect';

export const KNOWN_RSS_NOT_HEAP = 'RSS without a forced GC is not a leak measure: in-process with --expose-gc the heap stays flat over 12,000 streams; a GC hook in the processes would make this exact';

/** The last few log lines of a process, on one line. */
export function oneLine(text: string, lines = 4): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}
