import { cipherByName, hashByName, type CipherFn, type HashFn } from '../crypto/index.js';
import { TunError } from '../errors.js';
import { applyPskModifiers, basePattern, type HandshakePattern } from './patterns.js';

/** A parsed Noise protocol name: Noise_<pattern>_<dh>_<cipher>_<hash> (spec section 8). */
export interface NoiseProtocol {
  readonly name: string;
  readonly pattern: HandshakePattern;
  readonly pskCount: number;
  readonly cipher: CipherFn;
  readonly hash: HashFn;
}

/**
 * What this engine deliberately does not implement. Anything else that fails to parse is a
 * malformed name, not a silent skip. The vector runner prints these as its skip reasons.
 */
export const UNSUPPORTED = {
  dh: ['448'],
  modifiers: ['fallback', 'hfs'],
  note: 'deferred patterns (e.g. X1K, NK1) are not implemented',
} as const;

function unsupported(name: string, why: string): TunError {
  return new TunError('UNSUPPORTED_PROTOCOL', `unsupported Noise protocol ${name}: ${why}`);
}

export function parseProtocolName(name: string): NoiseProtocol {
  const parts = name.split('_');
  if (parts.length !== 5 || parts[0] !== 'Noise') throw unsupported(name, 'not of the form Noise_PATTERN_DH_CIPHER_HASH');
  const [, patternPart, dh, cipherName, hashName] = parts as [string, string, string, string, string];
  if (dh !== '25519') throw unsupported(name, `DH ${dh} (only 25519)`);
  const m = /^([A-Z0-9]+)([a-z].*)?$/.exec(patternPart);
  if (!m) throw unsupported(name, `pattern ${patternPart}`);
  const base = basePattern(m[1]!);
  if (!base) throw unsupported(name, `pattern ${m[1]} (${/\d/.test(m[1]!) ? UNSUPPORTED.note : 'unknown'})`);
  const pskPositions: number[] = [];
  if (m[2]) {
    for (const mod of m[2].split('+')) {
      const psk = /^psk(\d)$/.exec(mod);
      if (!psk) throw unsupported(name, `modifier ${mod}`);
      pskPositions.push(Number(psk[1]));
    }
  }
  let pattern: HandshakePattern;
  try {
    pattern = applyPskModifiers(base, pskPositions);
  } catch (err) {
    throw unsupported(name, (err as Error).message);
  }
  return { name, pattern, pskCount: pskPositions.length, cipher: cipherByName(cipherName), hash: hashByName(hashName) };
}
