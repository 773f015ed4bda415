import { availableParallelism } from "node:os";

/** Most worker processes {@link readWorkers} accepts: far above any sensible core count, low enough to catch typos. */
export const MAX_WORKERS = 256;

/**
 * Reads `WORKERS`, the number of worker processes a service runs on one host:
 * - unset or empty: 1 (a single process, no node:cluster; what a Kubernetes pod with one CPU wants);
 * - `auto`: `os.availableParallelism()` (the CPUs this process may use, honouring affinity);
 * - a positive integer up to {@link MAX_WORKERS}.
 *
 * Throws an Error naming the variable for anything else, e.g. `WORKERS must be a positive integer or "auto", got "two"`.
 */
export function readWorkers(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const raw = env.WORKERS?.trim() ?? "";
  if (raw === "") return 1;
  if (raw.toLowerCase() === "auto") return availableParallelism();
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
    throw new Error(`WORKERS must be a positive integer (1-${MAX_WORKERS}) or "auto", got ${JSON.stringify(raw)}`);
  }
  return value;
}
