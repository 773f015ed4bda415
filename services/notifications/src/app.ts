// The Notifications service: order events become mails (receipts, order-status mails), sent by
// workers that compete for the SendMail work queue, over SMTP or into the local mailbox that its
// gRPC API shows the back-office.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { defineService } from "@obfy/kit/server";
import type { ServiceDefinition } from "@obfy/kit/service";
import { notificationsV1 } from "@obfy/protos";
import { readNotificationsConfig } from "./config.js";
import { notificationsMigrations } from "./db/migrations/index.js";
import type { NotificationsSchema } from "./db/schema.js";
import { subscribeOrderMails } from "./mail-queue.js";
import { createMailboxTransport, createSmtpTransport } from "./mail-transport.js";
import { workSendMail } from "./mail-worker.js";
import { createNotificationsHandlers } from "./notifications-handlers.js";
import { createRenderer } from "./render.js";

/** The Notifications' definition: `runService(notificationsService)` runs it. */
export const notificationsService: ServiceDefinition<NotificationsSchema> = {
  name: "notifications",
  port: 50059,
  metricsPort: 9473,
  database: { migrations: [notificationsMigrations] },
  events: true,
  build({ env, database, bus, logger }) {
    const config = readNotificationsConfig(env);
    const transport =
      config.smtpUrl === undefined ? createMailboxTransport() : createSmtpTransport(config.smtpUrl, config.mailFrom);
    subscribeOrderMails(bus, { logger });
    workSendMail(bus, {
      database,
      transport,
      render: createRenderer({ marketplaceUrl: config.marketplaceUrl }),
      maxAttempts: config.maxAttempts,
      worker: `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`,
      smtpUrl: config.smtpUrl,
      logger,
    });
    logger.info(
      { transport: transport.name },
      `Mails go ${transport.name === "smtp" ? "over SMTP" : "to the local mailbox"}`,
    );
    return {
      services: [defineService(notificationsV1.NotificationsServiceService, createNotificationsHandlers({ database }))],
    };
  },
};
