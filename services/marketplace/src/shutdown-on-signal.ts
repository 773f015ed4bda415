import type { Logger } from "pino";

/** Options of {@link shutdownOnSignal}. */
export interface ShutdownOnSignalOptions {
  readonly logger: Logger;
  /** Stops the app: stop accepting, finish in-flight requests, release resources. */
  readonly close: () => Promise<void>;
  /** After this long, `forceClose` runs so a stuck request cannot hold the process forever. */
  readonly graceMs: number;
  /** Ends whatever is still open once the grace period is over (e.g. `server.closeAllConnections()`). */
  readonly forceClose?: () => void;
  /** Signals that start the shutdown; default SIGTERM and SIGINT. */
  readonly signals?: readonly NodeJS.Signals[];
  /** Called with the exit code when done; default `process.exit`. */
  readonly exit?: (code: number) => void;
  /** Where the signals come from; default `process`. */
  readonly target?: NodeJS.EventEmitter;
}

/**
 * On the first SIGTERM or SIGINT runs `close` and exits 0 (1 if closing failed). Later signals
 * are logged and ignored, so a second Ctrl+C does not cut in-flight requests short (SIGKILL
 * still works). Returns a function that removes the listeners.
 */
export function shutdownOnSignal(options: ShutdownOnSignalOptions): () => void {
  const { logger } = options;
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const target = options.target ?? process;
  let started = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (started) {
      logger.warn({ signal }, "Already shutting down; waiting for in-flight requests (send SIGKILL to force)");
      return;
    }
    started = true;
    logger.info({ signal }, "Received shutdown signal; finishing in-flight requests");
    const timer = setTimeout(() => {
      logger.warn({ grace_ms: options.graceMs }, "Shutdown grace period over: closing remaining connections");
      options.forceClose?.();
    }, options.graceMs);
    timer.unref();
    options.close().then(
      () => {
        clearTimeout(timer);
        logger.info("Shut down gracefully");
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(timer);
        logger.error({ err: error }, "Shutdown failed");
        exit(1);
      },
    );
  };
  for (const signal of signals) target.on(signal, onSignal);
  return () => {
    for (const signal of signals) target.off(signal, onSignal);
  };
}
