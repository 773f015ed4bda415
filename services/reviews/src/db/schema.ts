import type { ColumnType, Generated } from "@obfy/kit/db";
import type { EventTables } from "@obfy/kit/events";

/** The Reviews' tables (and the kit's outbox tables). */
export interface ReviewsSchema extends EventTables {
  reviews: {
    id: string;
    // bigint arrives as a string.
    seq: ColumnType<string, never, never>;
    book_id: string;
    author_id: string;
    author_display_name: string;
    rating: number;
    text: string;
    verified_purchase: Generated<boolean>;
    created_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, never, Date>;
  };
  book_ratings: {
    book_id: string;
    // bigint arrives as a string.
    rating_sum: ColumnType<string, number | undefined, number>;
    review_count: Generated<number>;
    version: ColumnType<string, never, number>;
  };
  purchases: {
    account_id: string;
    book_id: string;
    order_id: string;
    delivered_at: ColumnType<Date, never, never>;
  };
}
