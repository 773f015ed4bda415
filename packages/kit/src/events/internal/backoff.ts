/**
 * The delay before the next attempt after `failures` failed ones: exponential from `baseMs`,
 * capped at `maxMs`, with "equal jitter" (a uniform draw in the upper half), the shape pg-boss's
 * `retryBackoff` uses, so both transports space retries alike and replicas do not retry in step.
 */
export function backoffDelayMs(
  failures: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
