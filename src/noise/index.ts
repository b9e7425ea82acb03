export { CipherState } from './cipher-state.js';
export { SymmetricState } from './symmetric-state.js';
export { HandshakeState, isPinnedKey, type HandshakeOptions, type HandshakeResult } from './handshake-state.js';
export { parseProtocolName, UNSUPPORTED, type NoiseProtocol } from './protocol.js';
export { SUPPORTED_BASE_PATTERNS, basePattern, type HandshakePattern, type Token } from './patterns.js';
export { hkdf, hmac } from './hkdf.js';
