import type { ColumnType } from "@obfy/kit/db";
import type { EventTables } from "@obfy/kit/events";

/** Whose cart: an account's or an anonymous visitor's. */
export type CartKind = "account" | "anonymous";

/** The Cart's tables (and the kit's outbox tables). */
export interface CartSchema extends EventTables {
  carts: {
    kind: CartKind;
    id: string;
    created_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, never, Date>;
  };
  cart_lines: {
    kind: CartKind;
    cart_id: string;
    book_id: string;
    quantity: number;
    // bigint arrives as a string.
    added_price_minor: ColumnType<string, number, number>;
    added_currency: string;
    added_at: ColumnType<Date, never, never>;
  };
}
