// The Webhooks service: registered clients subscribe HTTPS endpoints to their orders' events;
// deliveries are signed, sent through the work queue, retried with backoff and logged.
import { defineService } from "@obfy/kit/server";
import type { ServiceDefinition } from "@obfy/kit/service";
import { webhooksV1 } from "@obfy/protos";
import { readWebhooksConfig } from "./config.js";
import { webhooksMigrations } from "./db/migrations/index.js";
import type { WebhooksSchema } from "./db/schema.js";
import { workDeliveries } from "./delivery-worker.js";
import { subscribeOrderEvents } from "./order-events.js";
import { createWebhooksHandlers } from "./webhooks-handlers.js";

/** The Webhooks service's definition: `runService(webhooksService)` runs it. */
export const webhooksService: ServiceDefinition<WebhooksSchema> = {
  name: "webhooks",
  port: 50060,
  metricsPort: 9475,
  database: { migrations: [webhooksMigrations] },
  events: true,
  build({ env, database, bus, logger }) {
    const config = readWebhooksConfig(env);
    subscribeOrderEvents(bus);
    workDeliveries(bus, { database, config, logger });
    return {
      services: [defineService(webhooksV1.WebhooksServiceService, createWebhooksHandlers({ database, bus, config }))],
    };
  },
};
