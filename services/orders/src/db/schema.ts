import type { ColumnType, Generated } from "@obfy/kit/db";
import type { EventTables } from "@obfy/kit/events";

/** An order's status as stored (bookstore.orders.v1.OrderStatus without the prefix, lower case). */
export type OrderStatusName = "pending" | "confirmed" | "shipped" | "delivered" | "cancelled" | "refunded";

/** The saga's step a pending order waits on: Inventory's answer, then Payments'. */
export type SagaStep = "stock" | "payment";

/** A shipping address as stored (the proto's PostalAddress fields). */
export interface StoredAddress {
  readonly recipientName: string;
  readonly addressLine: string;
  readonly locality: string;
  readonly postalCode: string;
  readonly regionCode: string;
}

/** The Orders' tables (and the kit's outbox tables). */
export interface OrdersSchema extends EventTables {
  orders: {
    id: string;
    // bigint arrives as a string.
    seq: ColumnType<string, never, never>;
    owner_id: string;
    idempotency_key: string;
    request_fingerprint: string;
    customer_email: string;
    cart_id: string;
    status: OrderStatusName;
    step: SagaStep | null;
    step_deadline: Date | null;
    currency_code: string;
    total_minor: ColumnType<string, number, number>;
    payment_method_id: string;
    shipping_address: ColumnType<StoredAddress, string, string>;
    reservation_id: string | null;
    payment_id: string | null;
    card_brand: Generated<string>;
    card_last4: Generated<string>;
    cancel_code: string | null;
    cancel_reason: string | null;
    was_confirmed: Generated<boolean>;
    version: ColumnType<string, never, never>;
    created_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, never, never>;
  };
  order_lines: {
    order_id: string;
    position: number;
    book_id: string;
    title: string;
    quantity: number;
    unit_price_minor: ColumnType<string, number, number>;
  };
  order_history: {
    id: Generated<string>;
    order_id: string;
    status: OrderStatusName;
    note: string;
    created_at: ColumnType<Date, never, never>;
  };
}
