/** Steps the P2P scenarios share: reach a direct path, move 64 MiB over it, read the relay's counters. */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { RelayCounters, kib } from './counters.js';
import type { Topology } from './topology.js';
import { MiB, TunNet, mbps, type PathChange, type Visitor } from './tun.js';

export const BIG = 64 * MiB;
/** How long a visitor may take to move its new streams to a direct path. */
export const DIRECT_WITHIN_MS = 20_000;

const teardown: (() => Promise<void> | void)[] = [];
// One hook for the scenario file that imports this module: after its tests, what it registered is
// undone, the last first.
after(async () => {
  for (const f of teardown.reverse()) await f();
});

/** Registers steps to undo after the file's tests (the last registered runs first). */
export function onTeardown(...steps: (() => Promise<void> | void)[]): void {
  teardown.push(...steps);
}

/** A TunNet on `topo`; after the file's tests its processes stop, then the topology's namespaces go. */
export function tunNetOn(topo: Topology): TunNet {
  const net = new TunNet(topo);
  onTeardown(() => topo.down(), () => net.stop());
  return net;
}

export function figure(scenario: string, text: string): void {
  console.log(`[${scenario}] ${text}`);
}

/** A first stream works at once (on the relay), then the visitor reports a direct path of `kind`. */
export async function reachDirect(v: Visitor, kind: RegExp, scenario: string): Promise<PathChange> {
  const first = await v.echo(1024);
  assert.ok(first.ok, `the first stream must work at once (on the relay): ${first.how} ${first.error ?? ''}`);
  const p = await v.waitPath(kind, DIRECT_WITHIN_MS);
  figure(scenario, `first stream echoed in ${first.ms.toFixed(1)} ms; path: ${p.kind} ${p.detail}`);
  return p;
}

/** 64 MiB up (sink answers its sha256) over the current path; returns the relay's stream bytes during it. */
export async function bigUpload(net: TunNet, v: Visitor, scenario: string, what: string): Promise<Relayed> {
  const { result: up, relayed, counted } = await measured(net, () => v.upload(BIG));
  assert.equal(up.how, 'end', `64 MiB upload ${what} ended by ${up.how} ${up.error ?? ''}; the visitor's log ends:\n${tail(v)}`);
  assert.equal(up.got, up.sent, `64 MiB upload ${what}: the service's sha256 must equal what was sent`);
  figure(scenario, `64 MiB ${what}: sha256 intact, ${(up.ms / 1000).toFixed(2)} s (${mbps(BIG, up.ms).toFixed(0)} MB/s); ${counted}`);
  return relayed;
}

/** Stream bytes through the relay during a transfer: iptables on its ports, and its own tun_bytes_total when it serves metrics. */
export interface Relayed {
  ip: number;
  own: number | undefined;
}

function tail(v: Visitor): string {
  return v.proc.output.split('\n').slice(-12).join('\n');
}

function ownText(r: Relayed): string {
  return r.own === undefined ? '' : `; the relay's own tun_bytes_total grew by ${kib(r.own)}`;
}

/** Runs `transfer`, reading the relay's counters before and after it: the stream bytes it carried meanwhile, and their description. */
async function measured<T>(net: TunNet, transfer: () => Promise<T>): Promise<{ result: T; relayed: Relayed; counted: string }> {
  const before = net.counters.read();
  const own0 = await net.relayReported();
  const result = await transfer();
  const after = net.counters.read();
  const own1 = await net.relayReported();
  const relayed = { ip: RelayCounters.streamBytes(before, after), own: own0 === undefined || own1 === undefined ? undefined : own1 - own0 };
  return { result, relayed, counted: `${RelayCounters.describe(before, after)}${ownText(relayed)}` };
}

/** 64 MiB down (generated from a seed) over the current path; checks the sha256. */
export async function bigDownload(net: TunNet, v: Visitor, scenario: string, what: string): Promise<Relayed> {
  const { result: d, relayed, counted } = await measured(net, () => v.download(BIG));
  assert.equal(d.how, 'end', `64 MiB download ${what} ended by ${d.how} ${d.error ?? ''}; the visitor's log ends:\n${tail(v)}`);
  assert.equal(d.bytes, BIG, `64 MiB download ${what}: byte count`);
  assert.equal(d.got, d.expected, `64 MiB download ${what}: sha256 must equal the generator's`);
  figure(scenario, `64 MiB down ${what}: sha256 intact, ${(d.ms / 1000).toFixed(2)} s (${mbps(BIG, d.ms).toFixed(0)} MB/s); ${counted}`);
  return relayed;
}

/** The relay must have carried far less than 1 MiB of a 64 MiB direct transfer. */
export function assertRelayIdle(relayed: Relayed, what: string): void {
  assert.ok(relayed.ip < MiB, `the relay carried ${kib(relayed.ip)} on its visitor and tunnel ports during a 64 MiB ${what} transfer; a direct path must leave it far below 1 MiB`);
  if (relayed.own !== undefined) assert.ok(relayed.own < MiB, `the relay's own tun_bytes_total grew by ${kib(relayed.own)} during a 64 MiB ${what} transfer; a direct path must leave it far below 1 MiB`);
}

/** Stops the visitor and returns its final `streams by path` counts (required at exit by the contract). */
export async function finalCounts(v: Visitor): Promise<NonNullable<ReturnType<Visitor['byPath']>>> {
  await v.stop();
  const c = v.byPath();
  assert.ok(c, `the visitor must log "streams by path: ..." at exit; its log ends:\n${v.proc.output.slice(-1500)}`);
  return c;
}
