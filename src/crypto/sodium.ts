import sodium from 'libsodium-wrappers';

let readyPromise: Promise<typeof sodium> | undefined;
let readyLib: typeof sodium | undefined;

/** libsodium-wrappers is WebAssembly and must finish loading once before first use. */
export function loadSodium(): Promise<typeof sodium> {
  readyPromise ??= sodium.ready.then(() => {
    readyLib = sodium;
    return sodium;
  });
  return readyPromise;
}

/** The loaded library; throws if initCrypto() was not awaited first (a programming error). */
export function sodiumLib(): typeof sodium {
  if (!readyLib) throw new Error('crypto not initialised: await initCrypto() before using tun crypto');
  return readyLib;
}
