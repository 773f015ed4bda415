// The Payments service: a simulated card processor (tokenised cards, authorize, capture, void,
// refund, each idempotent by key) and the checkout saga's payment step.
import { defineService } from "@obfy/kit/server";
import type { ServiceDefinition } from "@obfy/kit/service";
import { paymentsV1 } from "@obfy/protos";
import { readPaymentsConfig } from "./config.js";
import { paymentsMigrations } from "./db/migrations/index.js";
import type { PaymentsSchema } from "./db/schema.js";
import { createPaymentsHandlers } from "./payments-handlers.js";
import { createSimulatedProcessor } from "./processor.js";
import { subscribeSaga } from "./saga.js";

/** The Payments' definition: `runService(paymentsService)` runs it. */
export const paymentsService: ServiceDefinition<PaymentsSchema> = {
  name: "payments",
  port: 50058,
  metricsPort: 9472,
  database: { migrations: [paymentsMigrations] },
  events: true,
  build({ env, database, bus, logger }) {
    const config = readPaymentsConfig(env);
    const processor = createSimulatedProcessor({
      timeoutMs: config.processorTimeoutMs,
      latencyMs: config.processorLatencyMs,
    });
    subscribeSaga(bus, { processor, logger });
    return {
      services: [
        defineService(paymentsV1.PaymentsServiceService, createPaymentsHandlers({ database, bus, processor })),
      ],
    };
  },
};
