/**
 * Dependencies point one way: cli -> roles (relay, client, visitor) -> stream/net/identity ->
 * noise/wire -> crypto. This reads every import in src/ and fails on an edge that goes the wrong
 * way, so the layering cannot erode silently.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { it } from 'node:test';
import { repoRoot } from '../helpers/paths.js';

const SRC = join(repoRoot(), 'src');

/** Folder (layer) -> layers and packages it must never import. */
const FORBIDDEN: Record<string, string[]> = {
  crypto: ['noise', 'wire', 'stream', 'net', 'identity', 'relay', 'client', 'visitor', 'cli', 'node:net', 'msgpackr', 'commander'],
  noise: ['wire', 'stream', 'net', 'identity', 'relay', 'client', 'visitor', 'cli', 'node:net', 'node:fs', 'msgpackr', 'libsodium-wrappers', 'tweetnacl', 'commander'],
  wire: ['noise', 'stream', 'net', 'identity', 'relay', 'client', 'visitor', 'cli', 'node:net', 'node:fs', 'commander'],
  identity: ['noise', 'wire', 'stream', 'net', 'relay', 'client', 'visitor', 'cli', 'node:net'],
  net: ['crypto', 'noise', 'stream', 'identity', 'relay', 'client', 'visitor', 'cli'],
  stream: ['identity', 'relay', 'client', 'visitor', 'cli'],
  relay: ['client', 'visitor', 'cli'],
  client: ['relay', 'visitor', 'cli'],
  visitor: ['relay', 'client', 'cli'],
  // Settings are read for the roles, never from them.
  config: ['relay', 'client', 'visitor', 'cli'],
  p2p: ['relay', 'client', 'visitor', 'cli'],
};

/** Each role takes only its own half of P2P (shared pieces live in neutral p2p modules). */
const OTHER_HALVES: Record<string, string[]> = {
  visitor: ['p2p/client-side', 'p2p/relay-side'],
  client: ['p2p/visitor-probe', 'p2p/relay-side'],
  relay: ['p2p/client-side', 'p2p/visitor-probe'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The layer an import lands in: a src/ folder name, or the package/builtin name. */
function target(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  const rel = relative(SRC, resolve(dirname(from), spec));
  return rel.includes('/') ? rel.split('/')[0]! : rel.replace(/\.js$/, '');
}

it('src/ imports respect the layering', () => {
  const violations: string[] = [];
  let edges = 0;
  for (const file of files(SRC)) {
    const layer = relative(SRC, file).split('/')[0]!;
    const banned = FORBIDDEN[layer] ?? [];
    for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)(?:[^'"]*from)?\s*'([^']+)'/gm)) {
      edges++;
      const t = target(file, m[1]!);
      if (banned.includes(t)) violations.push(`${relative(SRC, file)} imports ${m[1]} (${layer} must not depend on ${t})`);
    }
  }
  assert.ok(edges > 100, `read the imports (${edges})`);
  assert.deepEqual(violations, []);
});

/** Every relative import in src/, as file -> files (paths relative to src/, without extension). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files(SRC)) {
    const deps = [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)(?:[^'"]*from)?\s*'([^']+)'/gm)]
      .map((m) => m[1]!)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, ''));
    graph.set(relative(SRC, file).replace(/\.ts$/, ''), deps);
  }
  return graph;
}

it('roles import only their own half of P2P', () => {
  const violations: string[] = [];
  for (const [file, deps] of importGraph()) {
    const banned = OTHER_HALVES[file.split('/')[0]!] ?? [];
    for (const d of deps) if (banned.includes(d)) violations.push(`${file} imports ${d}`);
  }
  assert.deepEqual(violations, []);
});

it('src/ has no import cycles', () => {
  const graph = importGraph();
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (n: string, stack: string[]): void => {
    state.set(n, 'open');
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m].join(' -> '));
      else if (!state.has(m) && graph.has(m)) visit(m, [...stack, m]);
    }
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n, [n]);
  assert.ok(graph.size > 50, `read the modules (${graph.size})`);
  assert.deepEqual(cycles, []);
});
