import { createRequire } from "node:module";
import { availableParallelism } from "node:os";

// piscina is loaded when the first pool is created, not by every process that imports the kit.
// createRequire keeps createWorkerPool synchronous (piscina ships CommonJS and an ESM wrapper
// of the same module).
const require = createRequire(import.meta.url);
type PiscinaModule = typeof import("piscina");

/** Options for {@link createWorkerPool}. */
export interface WorkerPoolOptions {
  /** The worker module: a file URL or absolute path whose default export is `(task) => result`. */
  filename: URL | string;
  /** Most worker threads (default: CPU count minus one, at least 1). */
  maxThreads?: number;
  /** Threads kept alive while idle (default 0). */
  minThreads?: number;
  /** Idle time before a spare thread exits, ms (default 30 s). */
  idleTimeoutMs?: number;
}

/** A pool of worker threads for CPU-heavy work, so the event loop keeps serving other calls. */
export interface WorkerPool<Task, Result> {
  /** Runs `task` on a worker; abort `signal` (e.g. the call's) to drop it if it has not finished. */
  run(task: Task, options?: { signal?: AbortSignal }): Promise<Result>;
  /** Tasks waiting for a free thread. */
  readonly queueSize: number;
  /** Stops every worker. */
  destroy(): Promise<void>;
}

/**
 * Creates a worker-thread pool (piscina). Node runs handlers on one thread: I/O waits overlap,
 * but CPU work blocks every other call. Run such work with `await pool.run(task, { signal: context.signal })`.
 * Workers inherit `execArgv`, so a `.ts` worker file works under `--import tsx` in development.
 */
export function createWorkerPool<Task, Result>(options: WorkerPoolOptions): WorkerPool<Task, Result> {
  const filename = options.filename instanceof URL ? options.filename.href : options.filename;
  const { Piscina } = require("piscina") as PiscinaModule;
  const pool = new Piscina<Task, Result>({
    filename,
    maxThreads: options.maxThreads ?? Math.max(1, availableParallelism() - 1),
    minThreads: options.minThreads ?? 0,
    idleTimeout: options.idleTimeoutMs ?? 30_000,
  });
  return {
    run: (task, runOptions = {}) => pool.run(task, runOptions.signal ? { signal: runOptions.signal } : {}),
    get queueSize() {
      return pool.queueSize;
    },
    destroy: () => pool.destroy(),
  };
}
