// The Accounts service: sign-up and sign-in, server-side sessions, roles, the store's access
// tokens (ES256 JWTs) with their JWKS on the admin port, and OAuth2 clients.
import { defineService } from "@obfy/kit/server";
import type { ServiceDefinition } from "@obfy/kit/service";
import { accountsV1, clientsV1 } from "@obfy/protos";
import { createAccountsHandlers } from "./accounts-handlers.js";
import { ensureFirstAdmin } from "./admin-bootstrap.js";
import { createClientsHandlers } from "./clients-handlers.js";
import { readAccountsConfig } from "./config.js";
import { accountsMigrations } from "./db/migrations/index.js";
import type { AccountsSchema } from "./db/schema.js";
import { createMaintenance } from "./maintenance.js";
import { createPasswordHasher } from "./passwords.js";
import { createSignInLimiter } from "./sign-in-limiter.js";
import { createTokenIssuer } from "./token-issuer.js";

/** The Accounts' definition: `runService(accountsService)` runs it (see main.ts for its own JWKS). */
export const accountsService: ServiceDefinition<AccountsSchema> = {
  name: "accounts",
  port: 50054,
  metricsPort: 9468,
  database: { migrations: [accountsMigrations] },
  async build({ env, database, logger }) {
    const config = readAccountsConfig(env);
    const hasher = createPasswordHasher(config.argon2);
    const issuer = createTokenIssuer({
      database,
      issuer: config.issuer,
      audience: config.audience,
      ttlSeconds: config.accessTokenTtlSeconds,
      policy: config.keys,
    });
    // The first key (or a due rotation) before anyone asks for a token or the JWKS.
    await issuer.rotate();
    await ensureFirstAdmin({ database, hasher, logger, admin: config.admin, production: config.production });
    const limiter = createSignInLimiter({ database, limits: config.signIn });
    return {
      services: [
        defineService(
          accountsV1.AccountsServiceService,
          createAccountsHandlers({ database, hasher, limiter, issuer, sessionIdleDays: config.sessionIdleDays }),
        ),
        defineService(clientsV1.ClientsServiceService, createClientsHandlers({ database, issuer })),
      ],
      adminHandlers: [(request, response) => issuer.handleAdminRequest(request, response)],
      background: [
        createMaintenance({
          database,
          issuer,
          logger,
          intervalMs: config.maintenanceIntervalMs,
          failureResetSeconds: config.signIn.failureResetSeconds,
        }),
      ],
    };
  },
};
