import type { ColumnType, Generated } from "@obfy/kit/db";
import type { EventTables } from "@obfy/kit/events";

/** The Catalog's tables (and the kit's outbox tables). */
export interface CatalogSchema extends EventTables {
  categories: {
    category_id: string;
    display_name: string;
    description: string;
    position: number;
  };
  books: {
    // bigint arrives as a string.
    id: ColumnType<string, string | undefined, never>;
    isbn: string;
    title: string;
    authors: string[];
    description: string;
    category_ids: string[];
    publication_year: number;
    page_count: number;
    price_minor: ColumnType<string, number, number>;
    currency_code: string;
    rating_average: Generated<number>;
    rating_count: Generated<number>;
    rating_version: ColumnType<string, never, number>;
    // Increases with every change of the book's facts (not of its rating).
    version: ColumnType<string, never, never>;
    created_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, never, never>;
  };
  /** Every word of the books' texts, for typo tolerance (pg_trgm similarity). */
  search_words: {
    word: string;
  };
}
