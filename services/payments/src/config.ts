import { envInt } from "@obfy/kit/core";

/** The Payments' own settings (the kit reads the rest: ports, database, event bus, TLS, ...). */
export interface PaymentsConfig {
  /** `PAYMENTS_PROCESSOR_TIMEOUT_MS`: how long an authorization may take before it is refused as "timeout". */
  readonly processorTimeoutMs: number;
  /** `PAYMENTS_PROCESSOR_LATENCY_MS`: how long the simulated processor takes to answer. */
  readonly processorLatencyMs: number;
}

/** Reads {@link PaymentsConfig}; a bad value throws naming the variable. */
export function readPaymentsConfig(env: NodeJS.ProcessEnv): PaymentsConfig {
  return {
    processorTimeoutMs: envInt(env, "PAYMENTS_PROCESSOR_TIMEOUT_MS", 5000, { min: 10, max: 120_000 }),
    processorLatencyMs: envInt(env, "PAYMENTS_PROCESSOR_LATENCY_MS", 0, { min: 0, max: 60_000 }),
  };
}
