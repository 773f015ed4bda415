import { envInt, envString } from "@obfy/kit/core";

/** The store's token issuer and audience (docs/architecture.md, "Identity and authorization"). */
export const DEFAULT_ISSUER = "obfy-accounts";
export const DEFAULT_AUDIENCE = "obfy";
/** The path of the JWKS on the admin (metrics) port. */
export const JWKS_PATH = "/.well-known/jwks.json";

/** The Accounts' own settings (the kit reads the rest: ports, database, TLS, ...). */
export interface AccountsConfig {
  /** `AUTH_ISSUER`: the `iss` of every token (default `obfy-accounts`); verifiers expect the same. */
  readonly issuer: string;
  /** `AUTH_AUDIENCE`: the `aud` of every token (default `obfy`). */
  readonly audience: string;
  /** `ACCESS_TOKEN_TTL_SECONDS`: lifetime of access tokens, accounts' and clients' (default 300). */
  readonly accessTokenTtlSeconds: number;
  /** `SESSION_IDLE_DAYS`: a session unused this long has ended (default 30). */
  readonly sessionIdleDays: number;
  /** `ADMIN_EMAIL` and `ADMIN_PASSWORD`: the first admin; both or neither. */
  readonly admin: { readonly email: string; readonly password: string } | undefined;
  /** `NODE_ENV=production`: no generated admin password is ever printed. */
  readonly production: boolean;
  readonly signIn: SignInLimits;
  readonly keys: SigningKeyPolicy;
  /** `MAINTENANCE_INTERVAL_MS`: how often ended sessions and stale counters are swept and keys rotated (default 600000). */
  readonly maintenanceIntervalMs: number;
  /** `ARGON2_MEMORY_KIB`, `ARGON2_TIME_COST`: argon2id cost (default 19456 KiB, 2 passes: OWASP's minimum). */
  readonly argon2: { readonly memoryCost: number; readonly timeCost: number };
}

/** The sign-in rate limits (README, "Sign-in limits"). */
export interface SignInLimits {
  /** `SIGN_IN_ACCOUNT_FREE_FAILURES`: failures per account before backoff (default 5). */
  readonly accountFreeFailures: number;
  /** `SIGN_IN_ADDRESS_FREE_FAILURES`: failures per client address before backoff (default 20). */
  readonly addressFreeFailures: number;
  /** `SIGN_IN_BACKOFF_BASE_SECONDS`: the first wait; each further failure doubles it (default 1). */
  readonly backoffBaseSeconds: number;
  /** `SIGN_IN_BACKOFF_MAX_SECONDS`: the longest wait (default 900). */
  readonly backoffMaxSeconds: number;
  /** `SIGN_IN_FAILURE_RESET_SECONDS`: failures are forgotten after this long without one (default 3600). */
  readonly failureResetSeconds: number;
}

/** Signing key rotation (README, "Signing keys"). */
export interface SigningKeyPolicy {
  /** `SIGNING_KEY_ROTATION_DAYS`: a key this old is replaced (default 30). */
  readonly rotationDays: number;
  /**
   * `SIGNING_KEY_PUBLISH_SECONDS`: a new key is in the JWKS this long before it signs (default
   * 900: longer than verifiers cache the JWKS, 10 minutes).
   */
  readonly publishSeconds: number;
  /** `SIGNING_KEY_CACHE_SECONDS`: how long a replica keeps the key list before reading it again (default 30). */
  readonly cacheSeconds: number;
}

/** Reads {@link AccountsConfig}; a bad value throws naming the variable. */
export function readAccountsConfig(env: NodeJS.ProcessEnv): AccountsConfig {
  const adminEmail = env.ADMIN_EMAIL?.trim() ?? "";
  const adminPassword = env.ADMIN_PASSWORD ?? "";
  if ((adminEmail === "") !== (adminPassword === "")) {
    throw new Error("Set both ADMIN_EMAIL and ADMIN_PASSWORD (the first admin account), or neither");
  }
  return {
    issuer: envString(env, "AUTH_ISSUER", DEFAULT_ISSUER),
    audience: envString(env, "AUTH_AUDIENCE", DEFAULT_AUDIENCE),
    accessTokenTtlSeconds: envInt(env, "ACCESS_TOKEN_TTL_SECONDS", 300, { min: 30, max: 3600 }),
    sessionIdleDays: envInt(env, "SESSION_IDLE_DAYS", 30, { min: 1, max: 365 }),
    admin: adminEmail === "" ? undefined : { email: adminEmail, password: adminPassword },
    production: env.NODE_ENV === "production",
    signIn: {
      accountFreeFailures: envInt(env, "SIGN_IN_ACCOUNT_FREE_FAILURES", 5, { min: 1, max: 1000 }),
      addressFreeFailures: envInt(env, "SIGN_IN_ADDRESS_FREE_FAILURES", 20, { min: 1, max: 100_000 }),
      backoffBaseSeconds: envInt(env, "SIGN_IN_BACKOFF_BASE_SECONDS", 1, { min: 1, max: 3600 }),
      backoffMaxSeconds: envInt(env, "SIGN_IN_BACKOFF_MAX_SECONDS", 900, { min: 1, max: 86_400 }),
      failureResetSeconds: envInt(env, "SIGN_IN_FAILURE_RESET_SECONDS", 3600, { min: 1, max: 7 * 86_400 }),
    },
    keys: {
      rotationDays: envInt(env, "SIGNING_KEY_ROTATION_DAYS", 30, { min: 1, max: 3650 }),
      publishSeconds: envInt(env, "SIGNING_KEY_PUBLISH_SECONDS", 900, { min: 0, max: 86_400 }),
      cacheSeconds: envInt(env, "SIGNING_KEY_CACHE_SECONDS", 30, { min: 0, max: 3600 }),
    },
    maintenanceIntervalMs: envInt(env, "MAINTENANCE_INTERVAL_MS", 600_000, { min: 100, max: 86_400_000 }),
    argon2: {
      memoryCost: envInt(env, "ARGON2_MEMORY_KIB", 19_456, { min: 8, max: 4_194_304 }),
      timeCost: envInt(env, "ARGON2_TIME_COST", 2, { min: 1, max: 100 }),
    },
  };
}

/**
 * Accounts checks its own tokens (GetAccount, ChangePassword, the admin methods) with the kit's
 * verifier like every other service. Unless `AUTH_JWKS_URL` or `AUTH_JWKS` is set, this points
 * the verifier at its own JWKS on the admin port (`METRICS_PORT`, default 9468), and fills
 * `AUTH_ISSUER` and `AUTH_AUDIENCE` with the store's defaults. Returns a new environment.
 */
export function withOwnTokenVerification(env: NodeJS.ProcessEnv, defaultMetricsPort: number): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  out.AUTH_ISSUER = env.AUTH_ISSUER?.trim() || DEFAULT_ISSUER;
  out.AUTH_AUDIENCE = env.AUTH_AUDIENCE?.trim() || DEFAULT_AUDIENCE;
  if (env.AUTH_JWKS_URL?.trim() || env.AUTH_JWKS?.trim()) return out;
  const rawPort = env.METRICS_PORT?.trim() || String(defaultMetricsPort);
  if (!/^[1-9]\d{0,4}$/.test(rawPort)) {
    throw new Error(
      `Accounts serves its JWKS on METRICS_PORT and verifies its own tokens there: set METRICS_PORT to a port (got ${JSON.stringify(rawPort)}) or set AUTH_JWKS_URL`,
    );
  }
  const host = env.METRICS_HOST?.trim();
  const local = !host || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const hostPart = local.includes(":") ? `[${local}]` : local;
  out.AUTH_JWKS_URL = `http://${hostPart}:${rawPort}${JWKS_PATH}`;
  return out;
}
