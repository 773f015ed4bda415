/** The first word of a statement that we name it after; anything else is `other`. */
const OPERATIONS = new Set([
  "select",
  "insert",
  "update",
  "delete",
  "merge",
  "with",
  "begin",
  "start",
  "commit",
  "rollback",
  "savepoint",
  "release",
  "create",
  "alter",
  "drop",
  "truncate",
  "lock",
  "copy",
  "set",
  "show",
  "values",
]);

/** The table right after the first `from`, `into`, `update`, `table`, `join` or `merge into`. */
const TABLE =
  /\b(?:from|into|update|table|join)\s+(?:if\s+(?:not\s+)?exists\s+)?((?:"[^"]+"|[a-z_][\w$]*)(?:\.(?:"[^"]+"|[a-z_][\w$]*))?)/i;

/** Statement names already computed, by SQL text (the same few hundred texts come back all the time). */
const cache = new Map<string, StatementName>();
const CACHE_LIMIT = 2000;

/** What a statement does, and to which table: the label of its metrics and slow-query lines. */
export interface StatementName {
  /** `select`, `insert`, … or `other`. */
  readonly operation: string;
  /** The first table it names, without quotes, or `""`. */
  readonly table: string;
  /** `select books`, `commit`, … */
  readonly name: string;
}

/**
 * Names `sqlText` by its operation and first table, e.g. `select books`. Only the SQL text is
 * read, never parameters: Kysely sends every value as a parameter, so the text is the same for
 * every call of a query and holds no caller data. Bounded: the name space is operations × tables.
 */
export function statementName(sqlText: string): StatementName {
  const cached = cache.get(sqlText);
  if (cached !== undefined) return cached;
  const first = /^\s*\(?\s*([a-z]+)/i.exec(sqlText)?.[1]?.toLowerCase() ?? "";
  const operation = OPERATIONS.has(first) ? first : "other";
  const match = TABLE.exec(sqlText)?.[1] ?? "";
  const table = match.replaceAll('"', "").toLowerCase();
  const named: StatementName = { operation, table, name: table === "" ? operation : `${operation} ${table}` };
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(sqlText, named);
  return named;
}
