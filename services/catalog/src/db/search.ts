// Full-text search over titles, authors and descriptions: a tsquery built from the query's
// words (each word, or one of its likely spellings, must match; the last word also as a prefix),
// ranked by ts_rank with title > authors > description, plus the title's trigram similarity to
// the query so that a title typed out (or nearly) comes first.
import { type Kysely, sql, type Transaction } from "@obfy/kit/db";
import type { BookRow } from "./books.js";
import type { CatalogSchema } from "./schema.js";

type Db = Kysely<CatalogSchema> | Transaction<CatalogSchema>;

/** Spellings tried for a word the books do not contain (best trigram similarity first). */
const MAX_ALTERNATIVES = 2;

/** One word of a query and what it may match. */
export interface QueryWord {
  readonly word: string;
  /** Match the word as a prefix (the last word, which may still be being typed). */
  readonly prefix: boolean;
  /** Words of the books that are spelt like it, when the books do not have it. */
  readonly alternatives: readonly string[];
}

/**
 * For each word, whether the vocabulary has it (as a prefix for the last word) and, when not,
 * its closest spellings there by trigram similarity (pg_trgm's `%`, similarity ≥ 0.3).
 */
export async function spellWords(db: Db, words: readonly string[], signal?: AbortSignal): Promise<QueryWord[]> {
  if (words.length === 0) return [];
  const last = words.length - 1;
  const result = await sql<{ ord: string; known: boolean; alternatives: string[] }>`
    select q.ord,
      exists (
        select 1 from search_words s
        -- Words are letters and digits only (queryWords), so they hold no LIKE wildcard.
        where s.word = q.word or (q.ord = ${last + 1} and s.word like q.word || '%')
      ) as known,
      array(
        select s.word from search_words s where s.word % q.word
        order by similarity(s.word, q.word) desc, s.word limit ${MAX_ALTERNATIVES}
      ) as alternatives
    from unnest(${[...words]}::text[]) with ordinality as q(word, ord)
    order by q.ord`.execute(db, { signal });
  return result.rows.map((row, i) => ({
    word: words[i] ?? "",
    prefix: i === last,
    alternatives: row.known ? [] : row.alternatives,
  }));
}

/**
 * The tsquery text for `words`: `(w1 | alt) & (w2:* | alt)`, or with `|` between words when
 * `any`. Safe by construction: every word is letters and digits only (see `queryWords`), so
 * it cannot hold tsquery operators; the text still goes to to_tsquery as a parameter.
 */
export function tsqueryText(words: readonly QueryWord[], any: boolean): string {
  return words
    .map((w) => `(${[w.prefix ? `${w.word}:*` : w.word, ...w.alternatives].join(" | ")})`)
    .join(any ? " | " : " & ");
}

/** The words of a search query: lower-case runs of letters and digits, at most 10. */
export function queryWords(query: string): string[] {
  return (
    query
      .normalize("NFKC")
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  ).slice(0, 10);
}

/** A search hit, with the number of hits of the whole search. */
export type SearchRow = BookRow & { readonly score: number; readonly headline: string; readonly total: string };

/** Where a search page starts: after the hit with this score and id. */
export interface SearchCursor {
  readonly score: number;
  readonly id: string;
}

// Marks around matched words in ts_headline's output: control characters, which no stored
// text can hold (validation refuses them), so they can only be ours.
export const MARK_START = "\u0001";
export const MARK_END = "\u0002";

const categoryFilter = (categoryId: string | undefined) =>
  categoryId === undefined ? sql`` : sql`and category_ids @> array[${categoryId}]::text[]`;

/** How many books match. */
export async function countMatches(
  db: Db,
  tsquery: string,
  categoryId: string | undefined,
  signal?: AbortSignal,
): Promise<number> {
  const result = await sql<{ n: string }>`
    select count(*) as n from books
    where search_document @@ to_tsquery('english', ${tsquery}) ${categoryFilter(categoryId)}`.execute(db, { signal });
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * One page of hits, best first (ties by id), after `after`, with each hit's headline marks and
 * the number of hits in all (one statement: the count costs no extra round trip).
 */
export async function searchPage(
  db: Db,
  options: {
    readonly tsquery: string;
    /** The query's words joined by spaces, for the title's similarity. */
    readonly text: string;
    readonly categoryId: string | undefined;
    readonly after: SearchCursor | undefined;
    readonly limit: number;
  },
  signal?: AbortSignal,
): Promise<SearchRow[]> {
  const { tsquery, text, categoryId, after, limit } = options;
  const result = await sql<SearchRow>`
    with hits as (
      select b.*,
        (ts_rank('{0.1, 0.2, 0.4, 1.0}', b.search_document, q) + 0.5 * similarity(lower(b.title), ${text}))::float8
          as score,
        count(*) over () as total
      from books b, to_tsquery('english', ${tsquery}) as q
      where b.search_document @@ q ${categoryFilter(categoryId)}
    ),
    page as (
      select * from hits
      ${after === undefined ? sql`` : sql`where (score, id) < (${after.score}::float8, ${after.id}::bigint)`}
      order by score desc, id desc
      limit ${limit}
    )
    select id, isbn, title, authors, description, category_ids, publication_year, page_count, price_minor,
      currency_code, rating_average, rating_count, rating_version, version, created_at, updated_at, score, total,
      ts_headline('english', title || ' ' || array_to_string(authors, ' ') || ' ' || description,
        to_tsquery('english', ${tsquery}), ${`HighlightAll=true, StartSel=${MARK_START}, StopSel=${MARK_END}`})
        as headline
    from page
    order by score desc, id desc`.execute(db, { signal });
  return result.rows;
}

/** The distinct words between the marks of a headline, in order. */
export function markedWords(headline: string): string[] {
  const words: string[] = [];
  let from = 0;
  for (;;) {
    const start = headline.indexOf(MARK_START, from);
    if (start === -1) break;
    const end = headline.indexOf(MARK_END, start + 1);
    if (end === -1) break;
    const word = headline.slice(start + 1, end);
    if (!words.includes(word)) words.push(word);
    from = end + 1;
  }
  return words;
}
