// Entry point of the gateway deployable: logger, process error handlers, start, stop on a signal.
import { createLogger, type Logger, runUntilSignalled } from "@obfy/kit/core";
import { createMetrics, installProcessErrorHandlers } from "@obfy/kit/observability";
import { startGateway } from "./start-gateway.js";

let logger: Logger;
try {
  logger = createLogger({ name: "gateway" });
} catch (error) {
  console.error(`gateway: cannot start: ${(error as Error).message}`);
  process.exit(1);
}

try {
  const metrics = createMetrics();
  installProcessErrorHandlers(logger, metrics);
  const starting = startGateway({ logger, metrics });
  starting.catch(() => {}); // reported below
  // Installed before the start completes, so a signal while starting stops it once it is up.
  void runUntilSignalled(starting, { logger });
  await starting;
} catch (error) {
  logger.fatal(`Cannot start: ${(error as Error).message}`);
  process.exit(1);
}
