import { runService } from "@obfy/kit/service";
import { accountsService } from "./app.js";
import { withOwnTokenVerification } from "./config.js";

// Accounts verifies its own tokens through its JWKS, like every other service (config.ts).
try {
  Object.assign(process.env, withOwnTokenVerification(process.env, accountsService.metricsPort));
} catch (error) {
  process.stderr.write(`accounts: cannot start: ${(error as Error).message}\n`);
  process.exit(1);
}
await runService(accountsService);
