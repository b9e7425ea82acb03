/**
 * Reloads of the configuration (SIGHUP or a changed file), counted for metrics and `tun status`.
 * The code that reloads calls countReload once per attempt; nothing else is needed to export it.
 */
const counts = { ok: 0, failed: 0 };

/** One reload attempt: `ok` when the new configuration took effect, false when it was rejected. */
export function countReload(ok: boolean): void {
  if (ok) counts.ok++;
  else counts.failed++;
}

export function reloadCount(): { ok: number; failed: number } {
  return { ...counts };
}
