/**
 * Typed errors with stable codes. Every error a user can see carries a hint that says what to do.
 * Codes are part of tun's interface: logs, tests and the wire (as short strings) rely on them.
 */
export type ErrorCode =
  | 'KEY_FILE_MISSING'
  | 'KEY_FILE_UNREADABLE'
  | 'KEY_FILE_PERMISSIONS'
  | 'KEY_FILE_MALFORMED'
  | 'KEY_FILE_EXISTS'
  | 'KEY_FILE_UNWRITABLE'
  | 'KEY_INVALID'
  | 'LIST_MALFORMED'
  | 'LIST_FILE_MISSING'
  | 'LIST_FILE_UNREADABLE'
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
  | 'CONNECT_REFUSED'
  | 'CONNECT_FAILED'
  | 'STREAM_TRUNCATED'
  | 'PROTOCOL_VIOLATION'
  | 'CONFIG_INVALID'
  | 'BUSY'
  | 'SESSION_REPLACED'
  | 'SESSION_CLOSED'
  | 'VERSION_MISMATCH';

export class TunError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TunError';
    this.code = code;
    this.hint = hint;
  }

  /** The message and its hint on one line, as printed to a person: `message (hint: ...)`. */
  describe(): string {
    return this.hint ? `${this.message} (hint: ${this.hint})` : this.message;
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

/** Code points that would break a line or hide text: C0/C1 controls, lone surrogates, line/paragraph separators, bidi and zero-width marks. */
function invisible(cp: number): boolean {
  return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp === 0xfeff || cp === 0xfffd;
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const QUOTED: Record<string, string> = { ...ESCAPES, '\\': '\\\\', '"': '\\"' };

/**
 * At most `max` characters of untrusted text, safe to quote in a message or a log line: control and
 * invisible characters are escaped (\n, \x1b, \u2028...), and so are backslashes and double quotes
 * unless `quoting` is false (a log line's own text); a cut ends in "…".
 */
export function printable(text: string, max = 40, quoting = true): string {
  const escapes = quoting ? QUOTED : ESCAPES;
  let out = '';
  let shown = 0;
  for (const ch of text) {
    if (shown++ >= max) return out + '…';
    const cp = ch.codePointAt(0)!;
    out += escapes[ch] ?? (invisible(cp) ? (cp < 0x100 ? '\\x' + cp.toString(16).padStart(2, '0') : '\\u' + cp.toString(16).padStart(4, '0')) : ch);
  }
  return out;
}
