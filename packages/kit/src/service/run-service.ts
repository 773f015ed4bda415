import { createLogger, type Logger } from "../logger.js";
import { createMetrics } from "../observability/metrics.js";
import { installProcessErrorHandlers } from "../observability/process-error-handlers.js";
import { traceLogMixin } from "../observability/trace-log-mixin.js";
import { runUntilSignalled } from "../run-until-signalled.js";
import { type ServiceDefinition, startService } from "./start-service.js";

/**
 * What a store service's `main.ts` calls: starts the service from `process.env` and runs it until
 * SIGTERM or SIGINT, then stops it in order and exits 0. A configuration, database or bind error
 * at start is one `fatal` line without a stack trace (`Cannot start: DATABASE_URL must be set`),
 * then exit 1.
 *
 * ```ts
 * // services/catalog/src/main.ts
 * import { runService } from "@obfy/kit/service";
 * import { catalogService } from "./app.js";
 * await runService(catalogService);
 * ```
 */
export async function runService<DB>(definition: ServiceDefinition<DB>): Promise<void> {
  let logger: Logger;
  try {
    logger = createLogger({ name: definition.name, mixin: traceLogMixin });
  } catch (error) {
    process.stderr.write(`${definition.name}: cannot start: ${(error as Error).message}\n`);
    process.exit(1);
  }
  const metrics = createMetrics();
  installProcessErrorHandlers(logger, metrics);
  // The signal handlers go in before the start (pg-boss, migrations and the like can take
  // seconds): a signal while starting stops the service once it is up, instead of killing the
  // process half-started. The server drains first; stop() then closes the rest.
  const starting = startService(definition, { logger, metrics });
  const server = starting.then((service) => service.server);
  server.catch(() => {}); // a failed start is reported below, once
  void runUntilSignalled(server, { logger, onShutdown: async () => (await starting).stop() });
  try {
    await starting;
  } catch (error) {
    logger.fatal(
      { cause: (error as Error).cause === undefined ? undefined : String((error as Error).cause) },
      `Cannot start: ${(error as Error).message}`,
    );
    // Let pino's asynchronous destination write the line before the process goes. The timer is
    // not unref'd: with nothing else left, Node would end the process at once with exit code 13
    // (an unsettled top-level await) and the line unwritten, as Webhooks once did in test/start.
    logger.flush?.();
    setTimeout(() => process.exit(1), 50);
    await new Promise(() => {});
  }
}
