/**
 * Typed readers for configuration from environment variables. Every reader names the variable
 * and shows the bad value in its error, so a misconfigured deployment fails at start with a
 * message a human can act on.
 */

type Env = Readonly<Record<string, string | undefined>>;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/** Reads a string variable; `fallback` when unset or blank. Throws when unset and no fallback is given. */
export function envString(env: Env, name: string, fallback?: string): string {
  const value = raw(env, name);
  if (value !== undefined) return value;
  if (fallback !== undefined) return fallback;
  throw new Error(`${name} must be set`);
}

/** Bounds for {@link envInt}. */
export interface IntRange {
  min?: number;
  max?: number;
}

/** Reads an integer variable within `range` (inclusive); `fallback` when unset. */
export function envInt(env: Env, name: string, fallback: number | undefined, range: IntRange = {}): number {
  const value = raw(env, name);
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`${name} must be set`);
  }
  const min = range.min ?? Number.MIN_SAFE_INTEGER;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const parsed = /^[+-]?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    const bounds =
      range.min !== undefined && range.max !== undefined
        ? ` between ${min} and ${max}`
        : range.min !== undefined
          ? ` >= ${min}`
          : range.max !== undefined
            ? ` <= ${max}`
            : "";
    throw new Error(`${name} must be an integer${bounds}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/** Reads a boolean variable (`true/false`, `1/0`, `yes/no`, `on/off`, any case); `fallback` when unset. */
export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  throw new Error(`${name} must be a boolean (true/false, 1/0, yes/no, on/off), got ${JSON.stringify(value)}`);
}

/** Server settings, each read from the environment variable of the same meaning. */
export interface ServerConfig {
  /** `HOST`: address to bind (default `0.0.0.0`). */
  host: string;
  /** `PORT`: port to bind; 0 picks a free one. */
  port: number;
  /** `SHUTDOWN_GRACE_SECONDS`: how long in-flight calls may run after a shutdown starts (default 30). */
  shutdownGraceSeconds: number;
  /** `GRPC_REFLECTION`: serve gRPC reflection (default on, off when `NODE_ENV=production`). */
  reflection: boolean;
  /** `GRPC_MAX_RECEIVE_MESSAGE_BYTES`: largest request message accepted (default 4 MiB). */
  maxReceiveMessageBytes: number;
  /** `GRPC_MAX_CONNECTION_AGE_MS`: close connections after this long so clients rebalance (default: never). */
  maxConnectionAgeMs: number | undefined;
}

/** Defaults a service may override before the environment is applied. */
export type ServerConfigDefaults = Partial<ServerConfig>;

const FOUR_MIB = 4 * 1024 * 1024;

/**
 * Reads {@link ServerConfig} from `env`. Throws an Error naming the variable for any bad value,
 * e.g. `PORT must be an integer between 0 and 65535, got "abc"`.
 */
export function readServerConfig(env: Env = process.env, defaults: ServerConfigDefaults = {}): ServerConfig {
  const production = env.NODE_ENV === "production";
  const maxAge = raw(env, "GRPC_MAX_CONNECTION_AGE_MS");
  return {
    host: envString(env, "HOST", defaults.host ?? "0.0.0.0"),
    port: envInt(env, "PORT", defaults.port ?? 50051, { min: 0, max: 65535 }),
    shutdownGraceSeconds: envInt(env, "SHUTDOWN_GRACE_SECONDS", defaults.shutdownGraceSeconds ?? 30, {
      min: 0,
      max: 3600,
    }),
    reflection: envBool(env, "GRPC_REFLECTION", defaults.reflection ?? !production),
    maxReceiveMessageBytes: envInt(env, "GRPC_MAX_RECEIVE_MESSAGE_BYTES", defaults.maxReceiveMessageBytes ?? FOUR_MIB, {
      min: 1,
      max: 2 ** 31 - 1,
    }),
    maxConnectionAgeMs:
      maxAge === undefined
        ? defaults.maxConnectionAgeMs
        : envInt(env, "GRPC_MAX_CONNECTION_AGE_MS", undefined, { min: 1, max: 2 ** 31 - 1 }),
  };
}
