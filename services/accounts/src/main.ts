import { createServer } from "node:net";
import { runService } from "@obfy/kit/service";
import { accountsService } from "./app.js";
import { withOwnTokenVerification } from "./config.js";

/**
 * `METRICS_PORT=0` (any free port) with Accounts verifying its own tokens through its JWKS on that
 * port: the port must be known before the service starts, so one is picked here (bound and
 * released; another process taking it in between makes the start fail naming METRICS_PORT).
 */
async function pickMetricsPort(env: NodeJS.ProcessEnv): Promise<void> {
  if (env.METRICS_PORT?.trim() !== "0" || env.AUTH_JWKS_URL?.trim() || env.AUTH_JWKS?.trim()) return;
  const server = createServer();
  const host = env.METRICS_HOST?.trim() || "0.0.0.0";
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, host, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address !== null && typeof address === "object") env.METRICS_PORT = String(address.port);
}

// Accounts verifies its own tokens through its JWKS, like every other service (config.ts).
try {
  await pickMetricsPort(process.env);
  Object.assign(process.env, withOwnTokenVerification(process.env, accountsService.metricsPort));
} catch (error) {
  process.stderr.write(`accounts: cannot start: ${(error as Error).message}\n`);
  process.exit(1);
}
await runService(accountsService);
