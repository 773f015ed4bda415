/**
 * The environment the benchmarks start services with, so every run measures the same production
 * settings.
 */

/**
 * Production mode, JSON logs, listening on loopback `port`, metrics on a free loopback port (two
 * instances may run side by side), plus `extra` (which wins on a clash).
 */
export function serviceEnv(port: number, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    PORT: String(port),
    HOST: "127.0.0.1",
    NODE_ENV: "production",
    LOG_FORMAT: "json",
    METRICS_HOST: "127.0.0.1",
    METRICS_PORT: "0",
    ...extra,
  };
}
