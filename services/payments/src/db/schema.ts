import type { ColumnType } from "@obfy/kit/db";
import type { EventTables } from "@obfy/kit/events";

/** A payment's state as stored (PaymentStatus without the prefix, lower case). */
export type PaymentState = "authorized" | "declined" | "failed" | "captured" | "voided" | "refunded";

/**
 * How the simulated processor answers for a card: chosen from the test card's number when the
 * payment method is created (the number itself is never kept).
 */
export type CardBehaviour = "succeed" | "decline" | "insufficient_funds" | "processing_error" | "timeout";

/** What capture, void and refund record under their idempotency keys. */
export type OperationKind = "capture" | "void" | "refund";

/** The Payments' tables (and the kit's outbox tables). */
export interface PaymentsSchema extends EventTables {
  payment_methods: {
    id: string;
    owner_id: string;
    brand: string;
    last4: string;
    exp_month: number;
    exp_year: number;
    behaviour: CardBehaviour;
    created_at: ColumnType<Date, never, never>;
  };
  payments: {
    id: string;
    // bigint arrives as a string.
    seq: ColumnType<string, never, never>;
    authorize_key: string;
    order_id: string;
    owner_id: string;
    payment_method_id: string;
    card_brand: string;
    card_last4: string;
    // bigint arrives as a string.
    amount_minor: ColumnType<string, number, number>;
    currency_code: string;
    status: PaymentState;
    failure_code: string | null;
    failure_message: string | null;
    created_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, Date | undefined, Date>;
    captured_at: Date | null;
    voided_at: Date | null;
    refunded_at: Date | null;
  };
  payment_operations: {
    idempotency_key: string;
    kind: OperationKind;
    payment_id: string;
    created_at: ColumnType<Date, never, never>;
  };
  cancelled_orders: {
    order_id: string;
    cancelled_at: ColumnType<Date, never, never>;
  };
}
