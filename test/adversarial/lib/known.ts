/** Known defects in code this suite does not own, found by these cases (see lib/checks.ts). */
export const KNOWN_CLIENT_CRASH =
  'client crashes (unhandled ECONNRESET) when the relay resets its control connection during the handshake: dial() in src/net/socket.ts drops its error listener on connect and joinRelay() adds none';

export const KNOWN_BACKOFF_SPREAD =
  "clients that lose the relay at the same moment retry in lock-step: src/net/backoff.ts starts at 500 ms with only +-20 % jitter, so the retries after a restart land within about 0.6 s of each other (needs a randomized first retry / wider jitter)";

/** The last few log lines of a process, on one line. */
export function oneLine(text: string, lines = 4): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}
