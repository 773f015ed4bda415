import type { ColumnType, Generated } from "@obfy/kit/db";
import type { EventTables } from "@obfy/kit/events";

/** The Recommendations' read model (and the kit's outbox tables). */
export interface RecommendationsSchema extends EventTables {
  books: {
    book_id: string;
    isbn: string;
    title: string;
    authors: string[];
    category_ids: string[];
    publication_year: number;
    price_currency: string;
    // bigint arrives as a string.
    price_minor: ColumnType<string, string | number, string | number>;
    version: ColumnType<string, string | number, string | number>;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
  categories: {
    category_id: string;
  };
  book_ratings: {
    book_id: string;
    average: number;
    rating_count: number;
    version: ColumnType<string, string | number, string | number>;
  };
  reviews: {
    review_id: string;
    book_id: string;
    author_id: string;
    rating: number;
    deleted: Generated<boolean>;
  };
  orders: {
    order_id: string;
    owner_id: string;
    book_ids: string[];
    state: "confirmed" | "cancelled";
  };
  purchases: {
    user_id: string;
    book_id: string;
    order_count: number;
  };
  bought_together: {
    book_id: string;
    other_book_id: string;
    order_count: number;
  };
  catalog_backfill: {
    id: Generated<boolean>;
    completed_at: Date;
  };
  model_revision: {
    id: Generated<boolean>;
    revision: ColumnType<string, string | number, string | number>;
  };
}
