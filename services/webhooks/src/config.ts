import { envInt, envString } from "@obfy/kit/core";
import { readEventBusConfig } from "@obfy/kit/events";

/** The Webhooks service's own settings (the kit reads the rest: ports, database, event bus, TLS, ...). */
export interface WebhooksConfig {
  /**
   * `WEBHOOKS_ALLOWED_HOSTS`: comma-separated host names (or IP literals) that may resolve to
   * private, loopback or link-local addresses and may use http://; default none. For tests and
   * for receivers inside the operator's own network.
   */
  readonly allowedHosts: ReadonlySet<string>;
  /** `WEBHOOKS_TIMEOUT_MS`: how long one attempt may take, connect to last byte (default 10 000). */
  readonly timeoutMs: number;
  /** `EVENT_BUS_MAX_ATTEMPTS`: attempts per delivery (the work queue's retries). */
  readonly maxAttempts: number;
  /** `EVENT_BUS_RETRY_DELAY_MS` and `EVENT_BUS_RETRY_MAX_DELAY_MS`: the queue's backoff, for next_attempt_time. */
  readonly retryDelayMs: number;
  readonly retryMaxDelayMs: number;
}

/** Reads {@link WebhooksConfig}; a bad value throws naming the variable. */
export function readWebhooksConfig(env: NodeJS.ProcessEnv): WebhooksConfig {
  const bus = readEventBusConfig(env);
  return {
    allowedHosts: new Set(
      envString(env, "WEBHOOKS_ALLOWED_HOSTS", "")
        .split(",")
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h !== ""),
    ),
    timeoutMs: envInt(env, "WEBHOOKS_TIMEOUT_MS", 10_000, { min: 100, max: 120_000 }),
    maxAttempts: bus.maxAttempts,
    retryDelayMs: bus.retryDelayMs,
    retryMaxDelayMs: bus.retryMaxDelayMs,
  };
}
