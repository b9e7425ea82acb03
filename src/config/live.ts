/**
 * The reload hooks of the role commands: what a reload loads, what it hands the running role, and
 * the one line it logs. The roles only expose reload(next); files and signals are handled here.
 */
import type { Command } from 'commander';
import type { KeyList } from '../identity/key-list.js';
import type { VisitorAccess } from '../identity/visitor-access.js';
import type { Logger } from '../log.js';
import { clientSettings, type ConfiguredService } from './client-config.js';
import { snake } from './merge.js';
import { describeKeys, describeNames, diffKeys, diffNames, joinSummary } from './diff.js';
import { Reloader } from './reload.js';
import { serverSettings } from './relay-config.js';

interface Reloadable<T, R> {
  reload(next: T): R;
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** Scalar options a reload cannot change in a running role: named in the log line. */
function needRestart(before: object, after: object, keys: string[]): string {
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  const changed = keys.filter((k) => String(b[k]) !== String(a[k]));
  return changed.length ? `changed but applied only at restart: ${changed.map(snake).join(', ')}` : '';
}

export function watchServer<T extends { config?: string; key?: string; authorized?: string }>(
  opts: T, cmd: Command, first: { opts: T; authorized: KeyList; files: string[] }, relay: Reloadable<KeyList, { revoked: number; regranted: number; streams: number }>, log: Logger,
): Reloader<ReturnType<typeof serverSettings<T>>> {
  let current = first;
  const fixed = Object.keys(first.opts).filter((k) => k !== 'authorized' && k !== 'config');
  const r = new Reloader({
    log,
    load: () => {
      const next = serverSettings(opts, cmd);
      return { value: next, files: next.files };
    },
    apply: (next) => {
      const keys = describeKeys(diffKeys(current.authorized, next.authorized));
      const done = relay.reload(next.authorized);
      const restart = needRestart(current.opts, next.opts, fixed);
      current = next;
      return joinSummary(keys, done.revoked ? `${plural(done.revoked, 'client session')} closed (key revoked)` : '', done.regranted ? `${plural(done.regranted, 'client session')} closed (grants changed)` : '', done.streams ? `${plural(done.streams, 'joined stream')} reset` : '', restart);
    },
  });
  r.start(first.files);
  return r;
}

interface ClientNext {
  services: ConfiguredService[];
  access: VisitorAccess;
}

/** Names of services whose visitor list changed (same name before and after). */
function listsChanged(before: ClientNext, after: ClientNext): string[] {
  const fps = (list: KeyList | undefined): string => (list ? list.entries.map((e) => e.fingerprint).sort().join(',') : '');
  return after.services.map((s) => s.name).filter((n) => before.services.some((s) => s.name === n) && fps(before.access.listFor(n)) !== fps(after.access.listFor(n)));
}

export function watchClient<T extends { config?: string; allow?: string; server?: string; pubkey?: string; key?: string }>(
  opts: T, cmd: Command, flagServices: ConfiguredService[], first: { opts: T; services: ConfiguredService[]; access: VisitorAccess; files: string[] },
  client: Reloadable<ClientNext, { sessions: number; streams: number; reregistered: boolean }>, log: Logger,
): Reloader<ReturnType<typeof clientSettings<T>>> {
  let current = { ...first, services: [...first.services] };
  const fixed = ['server', 'pubkey', 'key', 'logLevel', 'logFormat'];
  const r = new Reloader({
    log,
    load: () => {
      const next = clientSettings(opts, cmd, flagServices);
      return { value: next, files: next.files };
    },
    apply: (next) => {
      const keys = describeKeys(diffKeys(current.access.union, next.access.union));
      const services = describeNames(diffNames(current.services.map((s) => s.name), next.services.map((s) => s.name)), 'service');
      const lists = listsChanged(current, next);
      const done = client.reload({ services: next.services.map((s) => ({ ...s })), access: next.access });
      const restart = needRestart(current.opts, next.opts, fixed);
      current = { ...next, services: [...next.services] };
      return joinSummary(
        keys,
        services,
        lists.length ? `visitor lists changed for ${lists.join(', ')}` : '',
        done.sessions ? `${plural(done.sessions, 'visitor session')} closed (key revoked)` : '',
        done.streams ? `${plural(done.streams, 'stream')} closed (service removed or no longer allowed)` : '',
        done.reregistered ? 'registering the services with the relay again' : '',
        restart,
      );
    },
  });
  r.start(first.files);
  return r;
}

/** tun visit reloads nothing: SIGHUP (systemctl reload) logs so instead of ending the process. */
export function visitHangup(log: Logger): () => void {
  const onHup = (): void => log.warn('tun visit does not reload its settings on SIGHUP; restart it to apply a changed config');
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}
