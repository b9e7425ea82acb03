/**
 * `npm run bench`: prints figures and ratios against a baseline measured in the same run.
 * Sections: crypto primitives (which backend the hot path uses) and, where present, the tunnel.
 */
import { cryptoBench, type Row } from './crypto.js';

function printRows(rows: Row[]): void {
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(r.what, [...(groups.get(r.what) ?? []), r]);
  for (const [what, rs] of groups) {
    const base = rs[0]!.value;
    console.log(`\n${what}`);
    for (const r of rs) {
      const v = r.value >= 100 ? Math.round(r.value).toLocaleString('en-US') : r.value.toFixed(1);
      console.log(`  ${r.candidate.padEnd(48)} ${v.padStart(12)} ${r.unit.padEnd(13)} ${(r.value / base).toFixed(2)}x`);
    }
  }
}

async function main(): Promise<void> {
  const only = process.argv[2];
  console.log(`tun bench — node ${process.version}, ${process.platform}/${process.arch}; ratios are against the first row of each group`);
  if (!only || only === 'crypto') {
    console.log('\n== crypto primitives ==');
    printRows(await cryptoBench());
    console.log('\nHot path uses: node:crypto for ChaCha20-Poly1305 from 2 KiB up (bulk data in 32 KiB Noise messages), libsodium below;');
    console.log('node:crypto for X25519 DH;');
    console.log('libsodium-wrappers for BLAKE2b and X25519 base-point multiplication; tweetnacl only for key files.');
  }
  if (!only || only === 'tunnel') {
    try {
      const tunnelModule: string = './tunnel.js';
      const { tunnelBench } = (await import(tunnelModule)) as { tunnelBench: () => Promise<void> };
      console.log('\n== tunnel over loopback ==');
      await tunnelBench();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    }
  }
}

await main();
