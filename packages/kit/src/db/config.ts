import { readFileSync } from "node:fs";
import { envInt } from "../config.js";

type Env = Readonly<Record<string, string | undefined>>;

/** How the connection to PostgreSQL is encrypted and checked, with libpq's names. */
export type DatabaseSslMode = "disable" | "require" | "verify-ca" | "verify-full";

const SSL_MODES: readonly DatabaseSslMode[] = ["disable", "require", "verify-ca", "verify-full"];

/** TLS material for {@link DatabaseSslMode} `require`, `verify-ca` and `verify-full`, as PEM text. */
export interface DatabaseTls {
  readonly mode: Exclude<DatabaseSslMode, "disable">;
  /** `DATABASE_SSL_CA_FILE`: the CAs to trust; the system's when unset. */
  readonly ca: string | undefined;
  /** `DATABASE_SSL_CERT_FILE` and `DATABASE_SSL_KEY_FILE`: a client certificate, when the server asks for one. */
  readonly cert: string | undefined;
  readonly key: string | undefined;
}

/** A service's database settings, each read from the environment variable of the same meaning. */
export interface DatabaseConfig {
  /**
   * The service's name for its database, e.g. `catalog`: it labels metrics and log lines and
   * names the database in what callers see ("The catalog database is unavailable").
   */
  readonly name: string;
  /** `DATABASE_URL` without its TLS parameters (those are in {@link DatabaseConfig.tls}). */
  readonly url: string;
  /** `DATABASE_POOL_MAX`: connections in the pool (default 10). */
  readonly poolMax: number;
  /** `DATABASE_CONNECT_TIMEOUT_MS`: longest wait to connect, or for a free pooled connection (default 3000). */
  readonly connectTimeoutMs: number;
  /** `DATABASE_STATEMENT_TIMEOUT_MS`: the server cancels longer statements; 0 = no limit (default 5000). */
  readonly statementTimeoutMs: number;
  /** `DATABASE_SLOW_QUERY_MS`: queries at least this long get a log line; `undefined` (`off`) for none (default 200). */
  readonly slowQueryMs: number | undefined;
  /** `DATABASE_HEALTH_CHECK_INTERVAL_MS`: how often the database is probed while it answers (default 5000). */
  readonly healthCheckIntervalMs: number;
  /** `DATABASE_SSL_MODE` (or `sslmode` in the URL) with its files; `undefined` for plaintext. */
  readonly tls: DatabaseTls | undefined;
}

/** Options for {@link readDatabaseConfig}. */
export interface ReadDatabaseConfigOptions {
  /** The service's name for its database; see {@link DatabaseConfig.name}. */
  readonly name: string;
  /** Values to use where the environment sets none, e.g. `{ poolMax: 4 }`. */
  readonly defaults?: Partial<Omit<DatabaseConfig, "name" | "url" | "tls">>;
}

/** libpq parameters that configure TLS; pg would read them from the URL over our settings. */
const URL_TLS_PARAMETERS = ["sslmode", "sslrootcert", "sslcert", "sslkey"] as const;

/** `url` with any password replaced, safe to show in an error message. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.href;
  } catch {
    return "(not shown: it is not a valid URL and may hold a password)";
  }
}

function readPem(variable: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`${variable}: cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function readSlowQueryMs(env: Env, fallback: number): number {
  try {
    return envInt(env, "DATABASE_SLOW_QUERY_MS", fallback, { min: 0, max: 2 ** 31 - 1 });
  } catch (error) {
    throw new Error(`${(error as Error).message.replace(/, got/, ' or "off", got')}`);
  }
}

/**
 * Reads a service's {@link DatabaseConfig} from `env`. `DATABASE_URL` is required
 * (`postgres://user:password@host:port/database`); `npm start` sets it for every service. Every
 * bad value throws an Error naming the variable, e.g.
 * `DATABASE_POOL_MAX must be an integer between 1 and 1000, got "many"`; a URL is shown with its
 * password masked.
 *
 * TLS follows libpq's `sslmode`, from `DATABASE_SSL_MODE` or else the URL's `sslmode`:
 * `disable` (default), `require` (encrypted, server not checked), `verify-ca` (its certificate
 * must chain to a trusted CA) or `verify-full` (and name the host). `prefer` and `allow` are
 * refused: node-postgres cannot fall back to plaintext, so they would mean something else here.
 */
export function readDatabaseConfig(env: Env = process.env, options: ReadDatabaseConfigOptions): DatabaseConfig {
  const { name } = options;
  const defaults = options.defaults ?? {};
  const rawUrl = env.DATABASE_URL?.trim();
  if (rawUrl === undefined || rawUrl === "") {
    throw new Error(
      `DATABASE_URL must be set to the ${name} database, e.g. postgres://${name}:password@127.0.0.1:5432/${name} ` +
        "(`npm start` sets it for every service)",
    );
  }
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new Error(`DATABASE_URL must be a postgres:// URL, got ${redactDatabaseUrl(rawUrl)}`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new Error(`DATABASE_URL must be a postgres:// URL, got ${redactDatabaseUrl(rawUrl)}`);
  }

  const fromUrl = Object.fromEntries(URL_TLS_PARAMETERS.map((key) => [key, url.searchParams.get(key) ?? undefined]));
  for (const key of URL_TLS_PARAMETERS) url.searchParams.delete(key);
  const modeVariable = env.DATABASE_SSL_MODE?.trim() ? "DATABASE_SSL_MODE" : "DATABASE_URL's sslmode";
  const mode = (env.DATABASE_SSL_MODE?.trim() || fromUrl.sslmode || "disable").toLowerCase();
  if (!SSL_MODES.includes(mode as DatabaseSslMode)) {
    const hint = mode === "prefer" || mode === "allow" ? " (node-postgres cannot fall back to plaintext)" : "";
    throw new Error(`${modeVariable} must be one of ${SSL_MODES.join(", ")}, got ${JSON.stringify(mode)}${hint}`);
  }
  const file = (variable: string, urlKey: string): string | undefined => {
    const path = env[variable]?.trim() || fromUrl[urlKey];
    return path ? readPem(variable, path) : undefined;
  };
  const tls: DatabaseTls | undefined =
    mode === "disable"
      ? undefined
      : {
          mode: mode as DatabaseTls["mode"],
          ca: file("DATABASE_SSL_CA_FILE", "sslrootcert"),
          cert: file("DATABASE_SSL_CERT_FILE", "sslcert"),
          key: file("DATABASE_SSL_KEY_FILE", "sslkey"),
        };
  if ((tls?.cert === undefined) !== (tls?.key === undefined)) {
    throw new Error("DATABASE_SSL_CERT_FILE and DATABASE_SSL_KEY_FILE must be set together");
  }
  if (mode === "disable" && (env.DATABASE_SSL_CA_FILE?.trim() || env.DATABASE_SSL_CERT_FILE?.trim())) {
    throw new Error(`DATABASE_SSL_CA_FILE and DATABASE_SSL_CERT_FILE need DATABASE_SSL_MODE (now ${mode})`);
  }

  const slowRaw = env.DATABASE_SLOW_QUERY_MS?.trim().toLowerCase();
  return {
    name,
    url: url.href,
    poolMax: envInt(env, "DATABASE_POOL_MAX", defaults.poolMax ?? 10, { min: 1, max: 1000 }),
    connectTimeoutMs: envInt(env, "DATABASE_CONNECT_TIMEOUT_MS", defaults.connectTimeoutMs ?? 3000, {
      min: 1,
      max: 600_000,
    }),
    statementTimeoutMs: envInt(env, "DATABASE_STATEMENT_TIMEOUT_MS", defaults.statementTimeoutMs ?? 5000, {
      min: 0,
      max: 2 ** 31 - 1,
    }),
    slowQueryMs: slowRaw === "off" ? undefined : readSlowQueryMs(env, defaults.slowQueryMs ?? 200),
    healthCheckIntervalMs: envInt(env, "DATABASE_HEALTH_CHECK_INTERVAL_MS", defaults.healthCheckIntervalMs ?? 5000, {
      min: 100,
      max: 3_600_000,
    }),
    tls,
  };
}
