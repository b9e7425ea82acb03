/** `tun status` for a person: the Status of one role as a few aligned lines. */
import { printable } from '../errors.js';
import type { Status } from './observer.js';

/** 3725 -> "1h 2m 5s". */
export function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [d ? `${d}d` : '', d || h ? `${h}h` : '', d || h || m ? `${m}m` : '', `${s}s`].filter(Boolean).join(' ');
}

/** 1536 -> "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Rows of cells as left-aligned columns, two spaces apart, indented. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => '  ' + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

/** Text from the daemon is shown, not obeyed: every field goes through printable(). */
const p = (v: unknown, max = 80): string => printable(String(v ?? ''), max, false);

export function renderStatus(st: Status): string {
  const out: string[] = [];
  out.push(`${p(st.role)} (tun ${p(st.version)}, pid ${p(st.pid)}), up ${formatUptime(Number(st.uptimeSeconds) || 0)} since ${p(st.startedAt)}${st.identity ? `, key ${p(st.identity)}` : ''}`);
  out.push(`sessions: ${p(st.sessionCount)}`);
  if (st.sessions.length > 0) {
    const rows = [['PEER', 'KEY', 'NAME', 'PATH', 'STREAMS', 'SINCE']];
    for (const s of st.sessions) rows.push([p(s.peer), p(s.fingerprint ?? (s.client ? `(to client ${s.client})` : '-')), p(s.name || '-'), p(s.path), p(s.streams), p(s.since)]);
    out.push(...table(rows));
    if (st.sessionCount > st.sessions.length) out.push(`  ... and ${st.sessionCount - st.sessions.length} more`);
  }
  out.push(`services: ${st.services.length}`);
  if (st.services.length > 0) {
    const rows = [['NAME', 'ADDRESS', 'PUBLIC', 'CLIENT']];
    for (const s of st.services) rows.push([p(s.name), p(s.address ?? '-'), s.publicPort ? p(s.publicPort) : '-', p(s.client ?? '-')]);
    out.push(...table(rows));
  }
  const open = st.streams.reduce((n, r) => n + r.open, 0);
  out.push(`streams: ${open} open`);
  if (st.streams.length > 0) {
    const rows = [['SERVICE', 'PATH', 'OPEN', 'TOTAL', 'TO SERVICE', 'TO VISITOR']];
    for (const r of st.streams) rows.push([p(r.service), p(r.path), p(r.open), p(r.total), formatBytes(r.toService), formatBytes(r.toVisitor)]);
    out.push(...table(rows));
  }
  out.push(`bytes: ${formatBytes(st.bytes.toService)} to services, ${formatBytes(st.bytes.toVisitor)} to visitors`);
  const extra = [`pending joins ${p(st.pendingJoins)}`];
  if (st.preAuth !== undefined) extra.push(`unauthenticated connections ${p(st.preAuth)} (dropped ${p(st.preAuthDropped ?? 0)})`);
  extra.push(`reconnects ${p(st.reconnects)}`, `reloads ${p(st.reloads.ok)} ok / ${p(st.reloads.failed)} failed`);
  out.push(extra.join(', '));
  const failures = Object.entries(st.handshakeFailures);
  out.push(`handshake failures: ${failures.length ? failures.map(([k, v]) => `${p(k)} ${p(v)}`).join(', ') : 'none'}`);
  return out.join('\n') + '\n';
}
