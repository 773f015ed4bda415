// Entry point of the Marketplace deployable: logger, process error handlers, start, shut down on a
// signal. Everything else lives in startMarketplace (src/start-marketplace.ts), which tests call too.
// Subpath imports: each loads only its part of the kit (see the kit's README, "Start-up").
import { createLogger, type Logger, runUntilSignalled } from "@obfy/kit/core";
import { createMetrics, installProcessErrorHandlers, traceLogMixin } from "@obfy/kit/observability";
import { startMarketplace } from "./start-marketplace.js";

let logger: Logger;
try {
  logger = createLogger({ name: "marketplace", mixin: traceLogMixin });
} catch (error) {
  console.error(`marketplace: cannot start: ${(error as Error).message}`);
  process.exit(1);
}

try {
  const metrics = createMetrics();
  installProcessErrorHandlers(logger, metrics);
  const starting = startMarketplace({ logger, metrics });
  starting.catch(() => {}); // reported below
  // SIGTERM/SIGINT: drain requests (cut after SHUTDOWN_GRACE_SECONDS), close the rest, exit 0.
  // Installed before the start completes, so a signal while starting stops it once it is up.
  void runUntilSignalled(starting, { logger });
  await starting;
} catch (error) {
  // Configuration and bind errors: one clear line, no stack trace.
  logger.fatal(`Cannot start: ${(error as Error).message}`);
  process.exit(1);
}
