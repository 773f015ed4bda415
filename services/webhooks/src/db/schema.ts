import type { ColumnType, Generated } from "@obfy/kit/db";
import type { EventTables } from "@obfy/kit/events";

/** A delivery's state as stored. */
export type DeliveryState = "pending" | "succeeded" | "failed";

/** The Webhooks service's tables (and the kit's outbox tables). */
export interface WebhooksSchema extends EventTables {
  subscriptions: {
    id: string;
    client_id: string;
    url: string;
    /** WebhookEvent names without the prefix: "order.placed", ... */
    events: string[];
    description: Generated<string>;
    /** The HMAC-SHA256 key, "whsec_..." (needed in clear to sign). */
    signing_secret: string;
    created_at: ColumnType<Date, never, never>;
    deleted_at: Date | null;
  };
  deliveries: {
    id: string;
    subscription_id: string;
    event_id: string;
    event: string;
    order_id: string;
    /** The exact JSON body sent (every attempt and every redelivery send the same bytes). */
    payload: string;
    state: DeliveryState;
    attempt_count: Generated<number>;
    last_status_code: Generated<number>;
    last_error: Generated<string>;
    created_at: ColumnType<Date, never, never>;
    last_attempt_at: Date | null;
    next_attempt_at: Date | null;
  };
}
