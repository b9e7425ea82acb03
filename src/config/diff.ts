/** What a reload changed, as the words of its one log line. Pure. */
import { ctEqual } from '../crypto/ct.js';
import { grantsText, type KeyList, type KeyListEntry } from '../identity/key-list.js';

export interface KeyDiff {
  added: KeyListEntry[];
  removed: KeyListEntry[];
  /** Same key, other grants. */
  changed: KeyListEntry[];
}

const has = (list: readonly KeyListEntry[], e: KeyListEntry): KeyListEntry | undefined => list.find((x) => ctEqual(x.publicKey, e.publicKey));

export function diffKeys(before: KeyList | undefined, after: KeyList | undefined): KeyDiff {
  const a = before?.entries ?? [];
  const b = after?.entries ?? [];
  return {
    added: b.filter((e) => !has(a, e)),
    removed: a.filter((e) => !has(b, e)),
    changed: b.filter((e) => {
      const old = has(a, e);
      return old !== undefined && grantsText(old) !== grantsText(e);
    }),
  };
}

const who = (e: KeyListEntry): string => (e.name ? `${e.fingerprint} (${e.name})` : e.fingerprint);

/** "+2 keys, -1 key (ab12… (laptop)), grants changed for 1 key" — empty when nothing changed. */
export function describeKeys(d: KeyDiff, noun = 'key'): string {
  const n = (k: number): string => `${k} ${noun}${k === 1 ? '' : 's'}`;
  const parts: string[] = [];
  if (d.added.length) parts.push(`+${n(d.added.length)}`);
  if (d.removed.length) parts.push(`-${n(d.removed.length)} (${d.removed.map(who).join(', ')})`);
  if (d.changed.length) parts.push(`grants changed for ${n(d.changed.length)}`);
  return parts.join(', ');
}

export function diffNames(before: readonly string[], after: readonly string[]): { added: string[]; removed: string[] } {
  return { added: after.filter((x) => !before.includes(x)), removed: before.filter((x) => !after.includes(x)) };
}

export function describeNames(d: { added: string[]; removed: string[] }, noun: string): string {
  const parts: string[] = [];
  if (d.added.length) parts.push(`${noun}s added: ${d.added.join(', ')}`);
  if (d.removed.length) parts.push(`${noun}s removed: ${d.removed.join(', ')}`);
  return parts.join(', ');
}

export const joinSummary = (...parts: string[]): string => parts.filter((p) => p !== '').join('; ');
