// The WebhooksService's RPCs: subscriptions of the caller (admins: everyone's) and the delivery log.
import { randomUUID } from "node:crypto";
import type { CallContext } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { type Principal, requirePrincipal } from "@obfy/kit/security";
import type { ServiceImplementation } from "@obfy/kit/server";
import { webhooksTasksV1, webhooksV1 } from "@obfy/protos";
import type { WebhooksConfig } from "./config.js";
import {
  type DeliveryRow,
  deleteSubscription,
  findDelivery,
  findSubscription,
  insertDelivery,
  insertSubscription,
  listDeliveries,
  listSubscriptions,
  type PageCursor,
  type SubscriptionRow,
} from "./db/queries.js";
import type { WebhooksSchema } from "./db/schema.js";
import {
  DESCRIPTION_TOO_LONG,
  deliveryNotFound,
  EVENTS_REQUIRED,
  invalid,
  invalidPageToken,
  PAGE_SIZE_RANGE,
  PRIVATE_ADDRESS,
  subscriptionNotFound,
  UNKNOWN_EVENT,
  URL_REQUIRED,
  URL_TOO_LONG,
} from "./errors.js";
import { EVENT_NAMES, EVENT_OF_NAME } from "./order-events.js";
import { newSigningSecret } from "./signature.js";
import { checkTarget, TargetRefused } from "./target-guard.js";

/** What the handlers need. */
export interface WebhooksHandlerDeps {
  readonly database: Database<WebhooksSchema>;
  readonly bus: Pick<EventBus<WebhooksSchema>, "enqueue">;
  readonly config: WebhooksConfig;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function timestamp(date: Date | null): { seconds: number; nanos: number } | undefined {
  if (date === null) return undefined;
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

function subscriptionOf(row: SubscriptionRow): webhooksV1.Subscription {
  return {
    subscriptionId: row.id,
    clientId: row.client_id,
    url: row.url,
    events: row.events.map((e) => EVENT_OF_NAME.get(e) ?? webhooksV1.WebhookEvent.WEBHOOK_EVENT_UNSPECIFIED),
    description: row.description,
    createTime: timestamp(row.created_at),
  };
}

const STATES: Record<DeliveryRow["state"], webhooksV1.Delivery_State> = {
  pending: webhooksV1.Delivery_State.STATE_PENDING,
  succeeded: webhooksV1.Delivery_State.STATE_SUCCEEDED,
  failed: webhooksV1.Delivery_State.STATE_FAILED,
};

/** A delivery in the API's shape. */
export function deliveryOf(row: DeliveryRow): webhooksV1.Delivery {
  return {
    deliveryId: row.id,
    subscriptionId: row.subscription_id,
    eventId: row.event_id,
    event: EVENT_OF_NAME.get(row.event) ?? webhooksV1.WebhookEvent.WEBHOOK_EVENT_UNSPECIFIED,
    orderId: row.order_id,
    state: STATES[row.state],
    attemptCount: row.attempt_count,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    createTime: timestamp(row.created_at),
    lastAttemptTime: timestamp(row.last_attempt_at),
    nextAttemptTime: timestamp(row.next_attempt_at),
  };
}

function pageSize(value: number): number {
  if (value < 0 || value > 100) throw invalid(PAGE_SIZE_RANGE);
  return value === 0 ? 20 : value;
}

function encodeCursor(row: { created_at: Date; id: string }): string {
  return Buffer.from(JSON.stringify({ t: row.created_at.toISOString(), id: row.id })).toString("base64url");
}

function decodeCursor(token: string): PageCursor | undefined {
  if (token === "") return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { t?: unknown; id?: unknown };
    if (typeof parsed.t === "string" && typeof parsed.id === "string" && UUID.test(parsed.id)) {
      const createdAt = new Date(parsed.t);
      if (!Number.isNaN(createdAt.getTime())) return { createdAt, id: parsed.id };
    }
  } catch {
    // refused below
  }
  throw invalidPageToken();
}

/** Whose rows the caller sees: their own, or everyone's for admins. */
function ownerFilter(principal: Principal): string | undefined {
  return principal.role === "admin" ? undefined : principal.subject;
}

/** Creates the WebhooksService handlers. */
export function createWebhooksHandlers(
  deps: WebhooksHandlerDeps,
): ServiceImplementation<typeof webhooksV1.WebhooksServiceService> {
  const db = deps.database.kysely;

  async function ownSubscription(id: string, context: CallContext): Promise<SubscriptionRow> {
    const principal = requirePrincipal(context);
    if (!UUID.test(id)) throw subscriptionNotFound();
    const row = await findSubscription(db, id);
    // Someone else's subscription is not confirmed to exist either.
    if (row === undefined || (principal.role !== "admin" && row.client_id !== principal.subject)) {
      throw subscriptionNotFound();
    }
    return row;
  }

  return {
    async createSubscription(request, context) {
      const principal = requirePrincipal(context);
      const input = request.subscription;
      const url = input?.url.trim() ?? "";
      if (url === "") throw invalid(URL_REQUIRED);
      if (url.length > 2000) throw invalid(URL_TOO_LONG);
      const events = [...new Set(input?.events ?? [])];
      if (events.length === 0) throw invalid(EVENTS_REQUIRED);
      const names = events.map((e) => EVENT_NAMES[e]);
      if (names.some((n) => n === undefined)) throw invalid(UNKNOWN_EVENT);
      const description = input?.description ?? "";
      if ([...description].length > 200) throw invalid(DESCRIPTION_TOO_LONG);
      try {
        await checkTarget(url, deps.config.allowedHosts);
      } catch (error) {
        if (error instanceof TargetRefused) throw invalid(error.reason === "address" ? PRIVATE_ADDRESS : error.message);
        throw error;
      }
      const secret = newSigningSecret();
      const row = await insertSubscription(db, {
        id: randomUUID(),
        client_id: principal.subject,
        url,
        events: names as string[],
        description,
        signing_secret: secret,
      });
      context.log.info({ subscription_id: row.id, client_id: row.client_id }, "Webhook subscription created");
      return { subscription: subscriptionOf(row), signingSecret: secret };
    },

    async listSubscriptions(request, context) {
      const principal = requirePrincipal(context);
      const limit = pageSize(request.pageSize);
      const rows = await listSubscriptions(db, {
        clientId: ownerFilter(principal),
        after: decodeCursor(request.pageToken),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        subscriptions: page.map(subscriptionOf),
        nextPageToken: rows.length > limit && last !== undefined ? encodeCursor(last) : "",
      };
    },

    async deleteSubscription(request, context) {
      const row = await ownSubscription(request.subscriptionId, context);
      await deps.database.transaction((trx) => deleteSubscription(trx, row.id));
      return {};
    },

    async listDeliveries(request, context) {
      const principal = requirePrincipal(context);
      const limit = pageSize(request.pageSize);
      let subscriptionIds: string[] | undefined;
      if (request.subscriptionId === "-" || request.subscriptionId === "") {
        const owner = ownerFilter(principal);
        subscriptionIds =
          owner === undefined
            ? undefined
            : (await db.selectFrom("subscriptions").select("id").where("client_id", "=", owner).execute()).map(
                (r) => r.id,
              );
      } else {
        subscriptionIds = [(await ownSubscription(request.subscriptionId, context)).id];
      }
      const rows = await listDeliveries(db, {
        subscriptionIds,
        after: decodeCursor(request.pageToken),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        deliveries: page.map(deliveryOf),
        nextPageToken: rows.length > limit && last !== undefined ? encodeCursor(last) : "",
      };
    },

    async redeliver(request, context) {
      const subscription = await ownSubscription(request.subscriptionId, context);
      if (!UUID.test(request.deliveryId)) throw deliveryNotFound();
      const earlier = await findDelivery(db, request.deliveryId);
      if (earlier === undefined || earlier.subscription_id !== subscription.id) throw deliveryNotFound();
      const delivery = await deps.database.transaction(async (trx) => {
        const row = await insertDelivery(trx, {
          id: randomUUID(),
          subscription_id: subscription.id,
          event_id: earlier.event_id,
          event: earlier.event,
          order_id: earlier.order_id,
          payload: earlier.payload,
          state: "pending",
          next_attempt_at: new Date(),
        });
        await deps.bus.enqueue(trx, webhooksTasksV1.DeliverWebhook, { deliveryId: row.id });
        return row;
      });
      context.log.info({ delivery_id: delivery.id, of: earlier.id }, "Webhook redelivery queued");
      return { delivery: deliveryOf(delivery) };
    },
  };
}
