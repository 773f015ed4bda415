import type { Logger } from "./logger.js";

/** What {@link runUntilSignalled} stops: a `KitServer`, or any service with a graceful shutdown. */
export interface GracefulShutdown {
  /** Stops gracefully (stop accepting, finish what is in flight, release resources); safe to call twice. */
  shutdown(): Promise<void>;
  /** Where signals and the outcome are reported unless `options.logger` is given (a `KitServer` has one). */
  readonly logger?: Logger;
}

/** Options for {@link runUntilSignalled}. */
export interface RunUntilSignalledOptions {
  /** Where to report signals and the outcome; defaults to the target's logger. */
  logger?: Logger;
  /** Signals that start a graceful shutdown (default SIGTERM and SIGINT). */
  signals?: readonly NodeJS.Signals[];
  /** Runs after the target has shut down, before exiting: flush telemetry, close pools. */
  onShutdown?: () => Promise<void> | void;
  /** Exit the process when done (code 0, or 1 if shutting down failed). Default true; tests may turn it off. */
  exit?: boolean;
}

/**
 * Waits for SIGTERM or SIGINT, then shuts `target` down gracefully (for a `KitServer` see
 * `KitServer.shutdown`), runs `onShutdown` and exits 0, or 1 if that failed. This is what
 * Kubernetes expects: on SIGTERM finish current work, refuse new work, and be gone before the
 * grace period ends. A second signal while shutting down is logged and ignored, so an impatient
 * Ctrl+C does not cut in-flight calls short (SIGKILL still works).
 *
 * `target` may be the promise of a target that is still starting: pass it before awaiting it, so
 * the handlers are in place for the whole start-up. A signal while it starts then stops it once
 * it has started (nothing half-started is left, and no signal is lost). Swapping an early handler
 * for a later one instead loses a signal that arrives in between: Node drops a pending signal
 * when the last listener goes, which is how `npm start` once left Accounts running after Ctrl-C.
 * If the start fails, the caller reports that (the promise's rejection is the caller's).
 *
 * Resolves with the exit code once the shutdown has finished (useful with `exit: false`).
 */
export function runUntilSignalled(
  target: GracefulShutdown | Promise<GracefulShutdown>,
  options: RunUntilSignalledOptions = {},
): Promise<number> {
  const logger = options.logger ?? (target instanceof Promise ? undefined : target.logger);
  if (logger === undefined) throw new Error("runUntilSignalled needs a logger: options.logger, or the target's");
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const exit = options.exit ?? true;
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, "Already shutting down; waiting for in-flight work (send SIGKILL to force)");
        return;
      }
      stopping = true;
      logger.info({ signal }, "Received shutdown signal");
      void (async () => {
        let code = 0;
        try {
          // A target still starting is stopped once it has started.
          await (target instanceof Promise ? target.then((started) => started.shutdown()) : target.shutdown());
          await options.onShutdown?.();
          logger.info("Shut down gracefully");
        } catch (error) {
          code = 1;
          logger.error({ err: error }, "Shutdown failed");
        }
        for (const s of signals) process.off(s, onSignal);
        resolve(code);
        if (exit) process.exit(code);
      })();
    };
    for (const signal of signals) process.on(signal, onSignal);
  });
}
