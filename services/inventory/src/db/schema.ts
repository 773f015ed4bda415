import type { ColumnType, Generated } from "@obfy/kit/db";
import type { EventTables } from "@obfy/kit/events";

/** A reservation's state as stored. */
export type ReservationState = "held" | "confirmed" | "released" | "expired";

/** The Inventory's tables (and the kit's outbox tables). */
export interface InventorySchema extends EventTables {
  stock: {
    book_id: string;
    on_hand: number;
    reserved: Generated<number>;
    // bigint arrives as a string; set by the database on every change.
    version: ColumnType<string, never, never>;
    created_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, never, never>;
  };
  catalog_backfill: {
    id: Generated<boolean>;
    completed_at: Date;
  };
  stock_adjustments: {
    id: Generated<string>;
    idempotency_key: string;
    book_id: string;
    delta: number;
    reason: string;
    actor: string;
    on_hand_after: number;
    created_at: ColumnType<Date, never, never>;
  };
  reservations: {
    id: string;
    reservation_key: string;
    order_id: string | null;
    state: ReservationState;
    expire_at: Date;
    created_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, Date | undefined, Date>;
    restocked_at: Date | null;
    order_cancelled_at: Date | null;
  };
  reservation_lines: {
    reservation_id: string;
    book_id: string;
    quantity: number;
  };
}
