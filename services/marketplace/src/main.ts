// Entry point of the Marketplace deployable: read config, build, listen, shut down on a signal.
// Everything else lives in createMarketplace (src/app.ts) so tests build the same app.
import { createLogger, envBool, envInt, envString, type Logger } from "@obfy/kit";
import { createMarketplace } from "./app.js";
import { createRecommendationsClient, DEFAULT_RECOMMENDATIONS_TIMEOUT_MS } from "./recommendations-client.js";
import { shutdownOnSignal } from "./shutdown-on-signal.js";

const env = process.env;

let logger: Logger;
try {
  logger = createLogger({ name: "marketplace" });
} catch (error) {
  console.error(`marketplace: cannot start: ${(error as Error).message}`);
  process.exit(1);
}

try {
  const host = envString(env, "HOST", "0.0.0.0");
  const port = envInt(env, "PORT", 5000, { min: 0, max: 65535 });
  const graceMs = envInt(env, "SHUTDOWN_GRACE_SECONDS", 30, { min: 0, max: 3600 }) * 1000;
  const recommendations = createRecommendationsClient({
    host: envString(env, "RECOMMENDATIONS_HOST", "localhost"),
    port: envInt(env, "RECOMMENDATIONS_PORT", 50051, { min: 1, max: 65535 }),
    timeoutMs: envInt(env, "RECOMMENDATIONS_TIMEOUT_MS", DEFAULT_RECOMMENDATIONS_TIMEOUT_MS, { min: 1, max: 60_000 }),
    logger: logger.child({ component: "recommendations-client" }),
  });
  const app = createMarketplace({ recommendations, logger, logRequests: envBool(env, "LOG_REQUESTS", false) });
  shutdownOnSignal({
    logger,
    graceMs,
    close: async () => {
      await app.close();
      recommendations.close();
    },
    forceClose: () => app.server.closeAllConnections(),
  });
  await app.listen({ host, port });
  logger.info({ recommendations: recommendations.target }, "Marketplace ready");
} catch (error) {
  // Configuration and bind errors: one clear line, no stack trace.
  logger.fatal(`Cannot start: ${(error as Error).message}`);
  process.exit(1);
}
