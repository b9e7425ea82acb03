/** PROXY protocol versions a client may write to a local service (--proxy-protocol, `proxy_protocol`). */
export type ProxyVersion = 'v1' | 'v2';

/** Parses the --proxy-protocol value; undefined when it is not v1 or v2. */
export function parseProxyVersion(text: string): ProxyVersion | undefined {
  const t = text.toLowerCase();
  return t === 'v1' || t === '1' ? 'v1' : t === 'v2' || t === '2' ? 'v2' : undefined;
}
