// The DeliverWebhook worker: one attempt per task. A failed attempt is recorded and thrown, so
// the work queue retries it with its backoff (EVENT_BUS_RETRY_DELAY_MS, doubling, jittered); the
// last attempt, or a refused target, ends the delivery FAILED (redeliver it by hand).
import type { Logger } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { webhooksTasksV1 } from "@obfy/protos";
import type { WebhooksConfig } from "./config.js";
import { findDelivery, findSubscription, recordAttempt } from "./db/queries.js";
import type { WebhooksSchema } from "./db/schema.js";
import { attemptDelivery } from "./deliver.js";

/** Thrown for a failed attempt that will be retried (the queue's retry, not a bug). */
export class AttemptFailed extends Error {
  override readonly name = "AttemptFailed";
}

/** Registers the worker on `bus`. */
export function workDeliveries(
  bus: EventBus<WebhooksSchema>,
  deps: { readonly database: Database<WebhooksSchema>; readonly config: WebhooksConfig; readonly logger: Logger },
): void {
  const db = deps.database.kysely;
  const { config } = deps;
  bus.work(webhooksTasksV1.DeliverWebhook, async (task, trx) => {
    const delivery = await findDelivery(trx, task.data.deliveryId);
    if (delivery === undefined || delivery.state !== "pending") return;
    const subscription = await findSubscription(trx, delivery.subscription_id);
    if (subscription === undefined) {
      await recordAttempt(trx, delivery.id, {
        state: "failed",
        statusCode: 0,
        error: "subscription deleted",
        nextAttemptAt: null,
      });
      return;
    }
    const outcome = await attemptDelivery(delivery, subscription, config);
    if (outcome.ok) {
      await recordAttempt(trx, delivery.id, {
        state: "succeeded",
        statusCode: outcome.statusCode,
        error: "",
        nextAttemptAt: null,
      });
      return;
    }
    const last = outcome.final || task.attempt >= config.maxAttempts;
    const delay = Math.min(config.retryDelayMs * 2 ** (task.attempt - 1), config.retryMaxDelayMs);
    // Outside the task's transaction, which the throw below rolls back: the log keeps every attempt.
    await recordAttempt(db, delivery.id, {
      state: last ? "failed" : "pending",
      statusCode: outcome.statusCode,
      error: outcome.error,
      nextAttemptAt: last ? null : new Date(Date.now() + delay),
    });
    deps.logger.info(
      {
        delivery_id: delivery.id,
        attempt: task.attempt,
        status: outcome.statusCode,
        error: outcome.error,
        final: last,
      },
      "webhook attempt failed",
    );
    if (!last) throw new AttemptFailed(`delivery ${delivery.id}: ${outcome.error}`);
  });
}
