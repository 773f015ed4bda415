import type { Logger } from "../logger.js";
import type { KitServer } from "./create-server.js";

/** Options for {@link runUntilSignalled}. */
export interface RunUntilSignalledOptions {
  /** Where to report signals and the outcome; defaults to the server's logger. */
  logger?: Logger;
  /** Signals that start a graceful shutdown (default SIGTERM and SIGINT). */
  signals?: readonly NodeJS.Signals[];
  /** Runs after the server has drained, before exiting: flush telemetry, close pools. */
  onShutdown?: () => Promise<void> | void;
  /** Exit the process when done (code 0, or 1 if draining failed). Default true; tests may turn it off. */
  exit?: boolean;
}

/**
 * Waits for SIGTERM or SIGINT, then drains `server` gracefully (see {@link KitServer.shutdown})
 * and exits 0. This is what Kubernetes expects: on SIGTERM finish current calls, refuse new
 * ones, and be gone before the grace period ends. A second signal while draining is logged and
 * ignored, so an impatient Ctrl+C does not cut in-flight calls short (SIGKILL still works).
 *
 * Resolves once the shutdown has finished (useful with `exit: false`).
 */
export function runUntilSignalled(server: KitServer, options: RunUntilSignalledOptions = {}): Promise<void> {
  const logger = options.logger ?? server.logger;
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const exit = options.exit ?? true;
  return new Promise((resolve) => {
    let draining = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (draining) {
        logger.warn({ signal }, "Already shutting down; waiting for in-flight calls (send SIGKILL to force)");
        return;
      }
      draining = true;
      logger.info({ signal, in_flight: server.inFlight }, "Received shutdown signal");
      void (async () => {
        let code = 0;
        try {
          await server.shutdown();
          await options.onShutdown?.();
          logger.info("Shut down gracefully");
        } catch (error) {
          code = 1;
          logger.error({ err: error }, "Shutdown failed");
        }
        for (const s of signals) process.off(s, onSignal);
        resolve();
        if (exit) process.exit(code);
      })();
    };
    for (const signal of signals) process.on(signal, onSignal);
  });
}
