/**
 * Handshake patterns as data (spec section 7). A pattern is its pre-messages and its message
 * patterns; message i is sent by the initiator when i is even. psk modifiers are applied by
 * `applyPskModifiers` (spec section 9.2): psk0 goes first in message 0, pskN last in message N-1.
 */
export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';

export interface HandshakePattern {
  readonly name: string;
  /** Public keys known before the handshake: initiator's ('-> s'), responder's ('<- s'). */
  readonly preInitiator: readonly ('e' | 's')[];
  readonly preResponder: readonly ('e' | 's')[];
  readonly messages: readonly (readonly Token[])[];
  readonly oneWay: boolean;
}

type Def = [pre: { i?: ('e' | 's')[]; r?: ('e' | 's')[] }, messages: Token[][]];

const BASE: Record<string, Def> = {
  // one-way
  N: [{ r: ['s'] }, [['e', 'es']]],
  K: [{ i: ['s'], r: ['s'] }, [['e', 'es', 'ss']]],
  X: [{ r: ['s'] }, [['e', 'es', 's', 'ss']]],
  // interactive
  NN: [{}, [['e'], ['e', 'ee']]],
  NK: [{ r: ['s'] }, [['e', 'es'], ['e', 'ee']]],
  NX: [{}, [['e'], ['e', 'ee', 's', 'es']]],
  KN: [{ i: ['s'] }, [['e'], ['e', 'ee', 'se']]],
  KK: [{ i: ['s'], r: ['s'] }, [['e', 'es', 'ss'], ['e', 'ee', 'se']]],
  KX: [{ i: ['s'] }, [['e'], ['e', 'ee', 'se', 's', 'es']]],
  XN: [{}, [['e'], ['e', 'ee'], ['s', 'se']]],
  XK: [{ r: ['s'] }, [['e', 'es'], ['e', 'ee'], ['s', 'se']]],
  XX: [{}, [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']]],
  IN: [{}, [['e', 's'], ['e', 'ee', 'se']]],
  IK: [{ r: ['s'] }, [['e', 'es', 's', 'ss'], ['e', 'ee', 'se']]],
  IX: [{}, [['e', 's'], ['e', 'ee', 'se', 's', 'es']]],
};

export const SUPPORTED_BASE_PATTERNS: readonly string[] = Object.keys(BASE);

export function basePattern(name: string): HandshakePattern | undefined {
  const def = BASE[name];
  if (!def) return undefined;
  const [pre, messages] = def;
  return {
    name,
    preInitiator: pre.i ?? [],
    preResponder: pre.r ?? [],
    messages: messages.map((m) => [...m]),
    oneWay: messages.length === 1,
  };
}

/** Applies psk modifiers such as [0, 2] for "psk0+psk2". */
export function applyPskModifiers(pattern: HandshakePattern, pskPositions: readonly number[]): HandshakePattern {
  const messages = pattern.messages.map((m) => [...m]);
  for (const pos of pskPositions) {
    if (pos === 0) messages[0]!.unshift('psk');
    else {
      const msg = messages[pos - 1];
      if (!msg) throw new RangeError(`psk${pos} is past the last message of ${pattern.name}`);
      msg.push('psk');
    }
  }
  const suffix = pskPositions.map((p) => `psk${p}`).join('+');
  return { ...pattern, name: pattern.name + suffix, messages };
}
