// A bounded closed-loop HTTP load: `concurrency` workers each send one request after another until
// the time budget or the request budget runs out, and every request's outcome is kept so a test
// can split the run at the moment it injected a fault.
import { performance } from "node:perf_hooks";

/** What one request came back with. `ok` is the only good outcome. */
export type RequestOutcome = "ok" | "degraded" | `http ${number}` | `error ${string}`;

/** One request of a load run. */
export interface RequestResult {
  /** When it started, in ms since the run started. */
  readonly startMs: number;
  /** How long it took until the whole body arrived (or the error). */
  readonly latencyMs: number;
  readonly outcome: RequestOutcome;
}

/** Options of {@link startLoad}. */
export interface LoadOptions {
  readonly url: string;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** No request starts after this many ms. */
  readonly maxDurationMs: number;
  /** No more than this many requests in all. */
  readonly maxRequests: number;
  /** A request still running after this long is aborted and counted as an error. */
  readonly requestTimeoutMs: number;
  /** Classifies a 200 page: `ok`, or `degraded` (e.g. served without the content shoppers came for). */
  readonly classify: (body: string) => "ok" | "degraded";
}

/** A load run in progress. */
export interface LoadRun {
  /** Results so far, in completion order. */
  readonly results: readonly RequestResult[];
  /** Ms since the run started. */
  elapsedMs(): number;
  /** Resolves once the run has ended and every request has completed. */
  readonly done: Promise<readonly RequestResult[]>;
}

/** Starts the load at once; see {@link LoadOptions} for its bounds. */
export function startLoad(options: LoadOptions): LoadRun {
  const results: RequestResult[] = [];
  const started = performance.now();
  const elapsedMs = (): number => performance.now() - started;
  let issued = 0;

  const one = async (): Promise<void> => {
    const startMs = elapsedMs();
    let outcome: RequestOutcome;
    try {
      const response = await fetch(options.url, { signal: AbortSignal.timeout(options.requestTimeoutMs) });
      const body = await response.text();
      outcome = response.status === 200 ? options.classify(body) : `http ${response.status}`;
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      outcome = `error ${cause ?? (error as Error).name}`;
    }
    results.push({ startMs, latencyMs: elapsedMs() - startMs, outcome });
  };

  const worker = async (): Promise<void> => {
    while (issued < options.maxRequests && elapsedMs() < options.maxDurationMs) {
      issued++;
      await one();
    }
  };

  const done = Promise.all(Array.from({ length: options.concurrency }, worker)).then(() => results);
  return { results, elapsedMs, done };
}

/** Counts and latency percentiles of some results. */
export interface LoadSummary {
  readonly total: number;
  readonly failures: number;
  /** Failed requests by outcome, e.g. `{ degraded: 3, "http 502": 1 }`. */
  readonly failuresByOutcome: Readonly<Record<string, number>>;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** Summarizes `results`. */
export function summarizeLoad(results: readonly RequestResult[]): LoadSummary {
  const latencies = results.map((r) => r.latencyMs).sort((a, b) => a - b);
  const failuresByOutcome: Record<string, number> = {};
  let failures = 0;
  for (const result of results) {
    if (result.outcome === "ok") continue;
    failures++;
    failuresByOutcome[result.outcome] = (failuresByOutcome[result.outcome] ?? 0) + 1;
  }
  const round = (ms: number): number => Math.round(ms * 10) / 10;
  return {
    total: results.length,
    failures,
    failuresByOutcome,
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies.at(-1) ?? Number.NaN),
  };
}
