/**
 * Which visitor keys a client admits, per service: a service has its own list (a config file's
 * `allow` / `allow_keys`) or, without one, the client's default list (--allow). A visitor is
 * admitted to a session when at least one service allows it; each stream is then checked against
 * the list of the service it asks for.
 */
import { ctEqual } from '../crypto/ct.js';
import { KeyList, type KeyListEntry } from './key-list.js';

export class VisitorAccess {
  readonly #default: KeyList | undefined;
  readonly #perService: ReadonlyMap<string, KeyList>;
  /** Every admitted key once (for the session handshake); undefined when no list was given at all. */
  readonly union: KeyList | undefined;

  constructor(defaultList: KeyList | undefined, perService: ReadonlyMap<string, KeyList> = new Map(), serviceNames?: readonly string[]) {
    this.#default = defaultList;
    this.#perService = perService;
    // The default list counts only if some service uses it (all do when names are not given).
    const usesDefault = !serviceNames || serviceNames.some((n) => !perService.has(n));
    const lists = [...(usesDefault && defaultList ? [defaultList] : []), ...perService.values()];
    this.union = lists.length === 0 ? undefined : merge(lists);
  }

  /** The list that governs `service`. */
  listFor(service: string): KeyList | undefined {
    return this.#perService.get(service) ?? this.#default;
  }

  admits(visitor: Uint8Array): KeyListEntry | undefined {
    return this.union?.find(visitor);
  }

  allows(visitor: Uint8Array, service: string): boolean {
    return this.listFor(service)?.find(visitor) !== undefined;
  }

  /** Every list in use, for reload summaries. */
  get lists(): KeyList[] {
    return [...(this.#default ? [this.#default] : []), ...this.#perService.values()];
  }
}

function merge(lists: KeyList[]): KeyList {
  const entries: KeyListEntry[] = [];
  for (const list of lists) {
    for (const e of list.entries) if (!entries.some((x) => ctEqual(x.publicKey, e.publicKey))) entries.push(e);
  }
  const sources = [...new Set(lists.map((l) => l.source))];
  return new KeyList(entries, sources.length === 1 ? sources[0]! : `the allowed-visitor lists (${sources.join(', ')})`);
}
