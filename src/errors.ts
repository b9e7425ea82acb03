/**
 * Typed errors with stable codes. Every error a user can see carries a hint that says what to do.
 * Codes are part of tun's interface: logs, tests and the wire (as short strings) rely on them.
 */
export type ErrorCode =
  | 'KEY_FILE_MISSING'
  | 'KEY_FILE_PERMISSIONS'
  | 'KEY_FILE_MALFORMED'
  | 'KEY_FILE_EXISTS'
  | 'KEY_INVALID'
  | 'LIST_MALFORMED'
  | 'UNSUPPORTED_PROTOCOL'
  | 'HANDSHAKE_STATE'
  | 'DECRYPT_FAILED'
  | 'DH_FAILED'
  | 'NONCE_EXHAUSTED'
  | 'MESSAGE_TOO_LARGE'
  | 'FRAME_TOO_LARGE'
  | 'FRAME_MALFORMED'
  | 'MSGPACK_LIMIT'
  | 'MSGPACK_MALFORMED'
  | 'MESSAGE_UNKNOWN'
  | 'MESSAGE_INVALID'
  | 'RELAY_KEY_MISMATCH'
  | 'CLIENT_NOT_AUTHORIZED'
  | 'VISITOR_NOT_ALLOWED'
  | 'PEER_AUTH_FAILED'
  | 'UNKNOWN_SERVICE'
  | 'CLIENT_OFFLINE'
  | 'LOCAL_SERVICE_UNAVAILABLE'
  | 'PUBLIC_PORT_DENIED'
  | 'TIMEOUT'
  | 'STREAM_TRUNCATED'
  | 'PROTOCOL_VIOLATION'
  | 'CONFIG_INVALID'
  | 'BUSY'
  | 'SESSION_REPLACED';

export class TunError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TunError';
    this.code = code;
    this.hint = hint;
  }

  /** The message and its hint, as printed to a person. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

export function isTunError(err: unknown, code?: ErrorCode): err is TunError {
  return err instanceof TunError && (code === undefined || err.code === code);
}

/** Wraps any thrown value so callers above the crypto/wire layers only ever see TunError. */
export function asTunError(err: unknown, code: ErrorCode, message: string): TunError {
  if (err instanceof TunError) return err;
  return new TunError(code, message, undefined, { cause: err });
}
