// Entry point of the Recommendations deployable: create the logger and metrics, start, run until
// signalled. Everything else lives in startRecommendations (src/start-recommendations.ts) and
// createRecommendationsServer (src/app.ts), so tests build and start the very same service.
import {
  createLogger,
  createMetrics,
  installProcessErrorHandlers,
  type Logger,
  runUntilSignalled,
  traceLogMixin,
} from "@obfy/kit";
import { startRecommendations } from "./start-recommendations.js";

let logger: Logger;
try {
  // traceLogMixin: every line written while handling a call carries trace_id, span_id, request_id.
  logger = createLogger({ name: "recommendations", mixin: traceLogMixin });
} catch (error) {
  console.error(`recommendations: cannot start: ${(error as Error).message}`);
  process.exit(1);
}

const metrics = createMetrics();
installProcessErrorHandlers(logger, metrics);

try {
  const service = await startRecommendations({ env: process.env, logger, metrics });
  // runUntilSignalled drains the gRPC server first; stop() then closes the probe and metrics
  // servers and flushes traces.
  await runUntilSignalled(service.server, { onShutdown: () => service.stop() });
} catch (error) {
  // Configuration, certificate, catalogue and bind errors: one clear line, no stack trace.
  logger.fatal(`Cannot start: ${(error as Error).message}`);
  process.exit(1);
}
