import { parseProxyVersion, type ProxyVersion } from '../client/proxy-protocol.js';
import { TunError, printable } from '../errors.js';

/** --proxy-protocol v1|v2, or a clear error. */
export function proxyVersionFlag(text: string): ProxyVersion {
  const v = parseProxyVersion(text);
  if (!v) throw new TunError('CONFIG_INVALID', `--proxy-protocol "${printable(text)}" is not a PROXY protocol version`, 'use v1 (text) or v2 (binary), as the local service expects');
  return v;
}
