/**
 * A small in-process micro-benchmark loop: runs a function in batches for a fixed time per round,
 * several rounds, and reports the median. Medians of rounds resist the noise of a shared machine
 * (GC pauses, other processes) better than one long mean.
 */

/** Options for {@link measureOps}. */
export interface MicroOptions {
  /** Rounds to run after warm-up; the median round is reported. */
  readonly rounds: number;
  /** Wall time of one round, ms. */
  readonly roundMs: number;
  /** Warm-up time before the first round, ms (lets V8 optimise the code under test). */
  readonly warmupMs: number;
  /** Hard cap on iterations per round, so a no-op cannot spin forever. */
  readonly maxOpsPerRound?: number;
}

/** The result of one micro-benchmark. */
export interface MicroResult {
  readonly name: string;
  /** Median operations per second over the rounds. */
  readonly opsPerSec: number;
  /** Median nanoseconds per operation. */
  readonly nsPerOp: number;
  /** Every round's ops/s, in order, for spread. */
  readonly roundsOpsPerSec: readonly number[];
}

/** Something the measured function returns; kept alive so V8 cannot drop the work as dead code. */
let sink: unknown;

/** The median of `values` (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function runFor(fn: () => unknown, ms: number, maxOps: number): { ops: number; ns: number } {
  // Batches amortise the clock reads; 256 calls of a ~1 µs function is a ~0.25 ms batch.
  const batch = 256;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(ms * 1e6));
  let ops = 0;
  let now = start;
  while (now < deadline && ops < maxOps) {
    for (let i = 0; i < batch; i++) sink = fn();
    ops += batch;
    now = process.hrtime.bigint();
  }
  return { ops, ns: Number(now - start) };
}

/** Measures `fn` and returns median ops/s and ns/op over `options.rounds` rounds. */
export function measureOps(name: string, fn: () => unknown, options: MicroOptions): MicroResult {
  const maxOps = options.maxOpsPerRound ?? 50_000_000;
  runFor(fn, options.warmupMs, maxOps);
  const rounds: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const { ops, ns } = runFor(fn, options.roundMs, maxOps);
    rounds.push((ops * 1e9) / ns);
  }
  const opsPerSec = median(rounds);
  return { name, opsPerSec, nsPerOp: 1e9 / opsPerSec, roundsOpsPerSec: rounds };
}

/** One function to measure with {@link measureSuite}. */
export interface MicroCase {
  readonly name: string;
  readonly fn: () => unknown;
}

/**
 * Measures several functions with their rounds interleaved (round 1 of every case, then round 2,
 * ...), so a burst of load from elsewhere on the machine lands on all of them alike instead of
 * skewing whichever case happened to be running.
 */
export function measureSuite(cases: readonly MicroCase[], options: MicroOptions): MicroResult[] {
  const maxOps = options.maxOpsPerRound ?? 50_000_000;
  for (const c of cases) runFor(c.fn, options.warmupMs, maxOps);
  const rounds = cases.map(() => [] as number[]);
  for (let r = 0; r < options.rounds; r++) {
    cases.forEach((c, i) => {
      const { ops, ns } = runFor(c.fn, options.roundMs, maxOps);
      rounds[i]?.push((ops * 1e9) / ns);
    });
  }
  return cases.map((c, i) => {
    const perRound = rounds[i] ?? [];
    const opsPerSec = median(perRound);
    return { name: c.name, opsPerSec, nsPerOp: 1e9 / opsPerSec, roundsOpsPerSec: perRound };
  });
}

/** Returns the last value the benchmark loop produced (for tests that want to check the work was done). */
export function lastSink(): unknown {
  return sink;
}
