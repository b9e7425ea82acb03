/** File-descriptor limits of this process, for tests that must size themselves to them. */

/** The soft and hard open-file limits of this process (Node raises soft to hard itself at start-up). */
export function openFileLimit(): { soft: number; hard: number } {
  const report = process.report.getReport() as unknown as { userLimits?: { open_files?: { soft: number | string; hard: number | string } } };
  const lim = report.userLimits?.open_files;
  const num = (v: number | string | undefined): number => (typeof v === 'number' ? v : Number.POSITIVE_INFINITY);
  return { soft: num(lim?.soft), hard: num(lim?.hard) };
}

/**
 * How many connections at once fit under this process's open-file limit, when every connection costs
 * `perConnection` descriptors in the busiest process and `reserve` are kept for everything else.
 */
export function connectionsThatFit(wanted: number, perConnection: number, reserve: number): { count: number; why: string } {
  const { soft } = openFileLimit();
  const fit = Math.floor((soft - reserve) / perConnection);
  if (fit >= wanted) return { count: wanted, why: `open-file limit ${soft} fits ${wanted} (${perConnection} fds each + ${reserve} reserve)` };
  return {
    count: Math.max(1, fit),
    why: `open-file limit ${soft} fits only ${fit} at ${perConnection} fds each + ${reserve} reserve; raise the hard limit (ulimit -Hn) for the full ${wanted}`,
  };
}
