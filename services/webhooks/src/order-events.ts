// Order events → deliveries: each event of an order goes to every live subscription of the
// order's owner that takes it, as one delivery row and one DeliverWebhook task, in the
// transaction that records the event as handled (so it happens once).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary, toJson } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { Transaction } from "@obfy/kit/db";
import type { EventBus, MessageType, ReceivedEvent } from "@obfy/kit/events";
import { descriptorSetPath, ordersEventsV1, webhooksTasksV1, webhooksV1 } from "@obfy/protos";
import { insertDelivery, subscriptionsFor } from "./db/queries.js";
import type { WebhooksSchema } from "./db/schema.js";

/** The event names of the API (WebhookEvent) as stored and sent (`type`, `Webhook-Event`). */
export const EVENT_NAMES: Readonly<Record<number, string>> = {
  [webhooksV1.WebhookEvent.WEBHOOK_EVENT_ORDER_PLACED]: "order.placed",
  [webhooksV1.WebhookEvent.WEBHOOK_EVENT_ORDER_CONFIRMED]: "order.confirmed",
  [webhooksV1.WebhookEvent.WEBHOOK_EVENT_ORDER_CANCELLED]: "order.cancelled",
  [webhooksV1.WebhookEvent.WEBHOOK_EVENT_ORDER_SHIPPED]: "order.shipped",
};

/** Stored name → API enum. */
export const EVENT_OF_NAME: ReadonlyMap<string, webhooksV1.WebhookEvent> = new Map(
  Object.entries(EVENT_NAMES).map(([value, name]) => [name, Number(value) as webhooksV1.WebhookEvent]),
);

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath)));

/** The event's data in canonical proto3 JSON (the same mapping as the REST API). */
function eventJson<T>(type: MessageType<T> & { encode(m: T): { finish(): Uint8Array } }, data: T): unknown {
  const schema = registry.getMessage(type.$type);
  if (schema === undefined) throw new Error(`${type.$type} is not in the descriptor set`);
  return toJson(schema, fromBinary(schema, type.encode(data).finish()), { registry });
}

/** The body of a delivery: the same bytes on every attempt and redelivery. */
export function deliveryPayload(event: ReceivedEvent<unknown>, name: string, data: unknown): string {
  return JSON.stringify({ id: event.id, type: name, time: event.time.toISOString(), data });
}

/** Subscribes the bus to the order events webhooks carry. */
export function subscribeOrderEvents(bus: EventBus<WebhooksSchema>): void {
  const fanOut =
    <T extends { orderId: string; ownerId: string }>(
      type: MessageType<T> & { encode(m: T): { finish(): Uint8Array } },
      name: string,
    ) =>
    async (event: ReceivedEvent<T>, trx: Transaction<WebhooksSchema>) => {
      const subscriptions = await subscriptionsFor(trx, event.data.ownerId, name);
      if (subscriptions.length === 0) return;
      const payload = deliveryPayload(event, name, eventJson(type, event.data));
      for (const subscription of subscriptions) {
        const delivery = await insertDelivery(trx, {
          id: randomUUID(),
          subscription_id: subscription.id,
          event_id: event.id,
          event: name,
          order_id: event.data.orderId,
          payload,
          state: "pending",
          next_attempt_at: new Date(),
        });
        await bus.enqueue(trx, webhooksTasksV1.DeliverWebhook, { deliveryId: delivery.id });
      }
    };
  bus
    .subscribe(ordersEventsV1.OrderPlaced, fanOut(ordersEventsV1.OrderPlaced, "order.placed"))
    .subscribe(ordersEventsV1.OrderConfirmed, fanOut(ordersEventsV1.OrderConfirmed, "order.confirmed"))
    .subscribe(ordersEventsV1.OrderCancelled, fanOut(ordersEventsV1.OrderCancelled, "order.cancelled"))
    .subscribe(ordersEventsV1.OrderShipped, fanOut(ordersEventsV1.OrderShipped, "order.shipped"));
}
