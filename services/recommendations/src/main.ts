// Entry point of the Recommendations deployable: read config, build, listen, run until signalled.
// Everything else lives in createRecommendationsServer (src/app.ts) so tests build the same server.
import { createLogger, envString, type Logger, readServerConfig, runUntilSignalled } from "@obfy/kit";
import { createRecommendationsServer } from "./app.js";
import { DEFAULT_BOOKS_FILE, loadCatalog } from "./catalog.js";

/** The gRPC port of the tutorial, and ours. */
const DEFAULT_PORT = 50051;

let logger: Logger;
try {
  logger = createLogger({ name: "recommendations" });
} catch (error) {
  console.error(`recommendations: cannot start: ${(error as Error).message}`);
  process.exit(1);
}

try {
  const config = readServerConfig(process.env, { port: DEFAULT_PORT });
  const catalog = loadCatalog(envString(process.env, "BOOKS_FILE", DEFAULT_BOOKS_FILE));
  const server = createRecommendationsServer({ catalog, logger, config });
  await server.listen();
  await runUntilSignalled(server);
} catch (error) {
  // Configuration, catalogue and bind errors: one clear line, no stack trace.
  logger.fatal(`Cannot start: ${(error as Error).message}`);
  process.exit(1);
}
