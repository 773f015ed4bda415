import { envInt, envString } from "@obfy/kit/core";

/** The gateway's settings, from the environment (variable names are the keys users set). */
export interface GatewayConfig {
  /** `HOST` (default 0.0.0.0) and `PORT` (default 8080). */
  readonly host: string;
  readonly port: number;
  /** `GATEWAY_DEFAULT_TIMEOUT_MS`: deadline of a unary call whose request sets none (default 10 000). */
  readonly defaultTimeoutMs: number;
  /** `GATEWAY_MAX_TIMEOUT_MS`: the longest deadline a request may ask for with `grpc-timeout` or `X-Timeout` (default 30 000). */
  readonly maxTimeoutMs: number;
  /** `GATEWAY_MAX_STREAM_SECONDS`: how long one server-sent-events stream may stay open (default 3600). */
  readonly maxStreamMs: number;
  /** `GATEWAY_BODY_LIMIT_BYTES`: largest request body (default 1 MiB); larger is 413. */
  readonly bodyLimitBytes: number;
  /** `GATEWAY_CORS_ORIGINS`: comma-separated origins allowed by CORS (default none). */
  readonly corsOrigins: readonly string[];
  /** `GATEWAY_RATE_LIMIT`: requests per window for a caller with a token, counted per token subject (default 600). */
  readonly rateLimit: number;
  /** `GATEWAY_ANONYMOUS_RATE_LIMIT`: requests per window without a token, counted per IP address (default 120). */
  readonly anonymousRateLimit: number;
  /** `GATEWAY_TOKEN_RATE_LIMIT`: POST /oauth/token requests per window, per client id (default 30). */
  readonly tokenRateLimit: number;
  /** `GATEWAY_RATE_WINDOW_MS`: the rate-limit window (default 60 000). */
  readonly rateWindowMs: number;
  /** `GATEWAY_CATALOG_MAX_AGE_SECONDS`: `Cache-Control: max-age` of anonymous catalogue reads (default 60). */
  readonly catalogMaxAgeSeconds: number;
  /** `TRUST_PROXY`: hops of proxies whose X-Forwarded-For is trusted (default 0). */
  readonly trustProxy: number;
}

/** Reads {@link GatewayConfig}; a bad value throws naming the variable. */
export function readGatewayConfig(env: NodeJS.ProcessEnv): GatewayConfig {
  const origins = envString(env, "GATEWAY_CORS_ORIGINS", "")
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (url === undefined || url.origin !== origin) {
      throw new Error(
        `GATEWAY_CORS_ORIGINS must list origins like https://shop.example, got ${JSON.stringify(origin)}`,
      );
    }
  }
  return {
    host: envString(env, "HOST", "0.0.0.0"),
    port: envInt(env, "PORT", 8080, { min: 0, max: 65535 }),
    defaultTimeoutMs: envInt(env, "GATEWAY_DEFAULT_TIMEOUT_MS", 10_000, { min: 1, max: 600_000 }),
    maxTimeoutMs: envInt(env, "GATEWAY_MAX_TIMEOUT_MS", 30_000, { min: 1, max: 600_000 }),
    maxStreamMs: envInt(env, "GATEWAY_MAX_STREAM_SECONDS", 3600, { min: 1, max: 86_400 }) * 1000,
    bodyLimitBytes: envInt(env, "GATEWAY_BODY_LIMIT_BYTES", 1024 * 1024, { min: 1024, max: 64 * 1024 * 1024 }),
    corsOrigins: origins,
    rateLimit: envInt(env, "GATEWAY_RATE_LIMIT", 600, { min: 1, max: 1_000_000 }),
    anonymousRateLimit: envInt(env, "GATEWAY_ANONYMOUS_RATE_LIMIT", 120, { min: 1, max: 1_000_000 }),
    tokenRateLimit: envInt(env, "GATEWAY_TOKEN_RATE_LIMIT", 30, { min: 1, max: 1_000_000 }),
    rateWindowMs: envInt(env, "GATEWAY_RATE_WINDOW_MS", 60_000, { min: 100, max: 86_400_000 }),
    catalogMaxAgeSeconds: envInt(env, "GATEWAY_CATALOG_MAX_AGE_SECONDS", 60, { min: 0, max: 86_400 }),
    trustProxy: envInt(env, "TRUST_PROXY", 0, { min: 0, max: 10 }),
  };
}
