// Failed sign-in counters per account and per address, in the database so replicas agree.
import { sql, type Transaction } from "@obfy/kit/db";
import type { AccountsSchema, ThrottleKind } from "./schema.js";

/** One counter an attempt goes through. */
export interface ThrottleKey {
  readonly kind: ThrottleKind;
  readonly key: string;
  /** Failures allowed before each further one makes the next attempt wait. */
  readonly freeFailures: number;
}

/** The backoff: the n-th failure past the free ones waits min(base · 2^(n-1), max) seconds. */
export interface Backoff {
  readonly baseSeconds: number;
  readonly maxSeconds: number;
  /** Failures older than this are forgotten. */
  readonly resetSeconds: number;
}

/**
 * Counts an attempt on `key` as a failure unless the key is locked (an earlier failure set a
 * wait that has not passed); the caller undoes it when the attempt succeeds. Counting first
 * means concurrent guesses cannot all slip past the limit: the upsert takes the row's lock, so
 * they queue and each sees the count and the wait of the one before. Returns the milliseconds
 * to wait when locked, else undefined.
 */
export async function countAttempt(
  trx: Transaction<AccountsSchema>,
  key: ThrottleKey,
  backoff: Backoff,
): Promise<number | undefined> {
  const free = key.freeFailures;
  const lockFor = (failures: ReturnType<typeof sql>) =>
    sql`case when ${failures} > ${free}
      then now() + least(${backoff.baseSeconds}::float8 * power(2, least(${failures} - ${free} - 1, 40)), ${backoff.maxSeconds}::float8) * interval '1 second'
      else null end`;
  const next = sql`case when t.last_failure_at < now() - ${backoff.resetSeconds}::float8 * interval '1 second' then 1 else t.failures + 1 end`;
  const counted = await sql<{ failures: number }>`
    insert into sign_in_throttle as t (kind, key, failures, last_failure_at, locked_until)
    values (${key.kind}, ${key.key}, 1, now(), ${lockFor(sql`1`)})
    on conflict (kind, key) do update set
      failures = ${next},
      last_failure_at = now(),
      locked_until = ${lockFor(next)}
    where t.locked_until is null or t.locked_until <= now()
    returning t.failures`.execute(trx);
  if (counted.rows.length > 0) return undefined;
  const wait = await sql<{ ms: number }>`
    select greatest(extract(epoch from (locked_until - now())) * 1000, 1)::float8 as ms
    from sign_in_throttle where kind = ${key.kind} and key = ${key.key}`.execute(trx);
  return Number(wait.rows[0]?.ms ?? 1000);
}

/** After a successful sign-in: the account's failures are forgotten. */
export async function clearAccount(trx: Transaction<AccountsSchema>, key: string): Promise<void> {
  await trx.deleteFrom("sign_in_throttle").where("kind", "=", "account").where("key", "=", key).execute();
}

/** After a successful attempt: takes back the failure counted for it on `key` (an address). */
export async function uncount(trx: Transaction<AccountsSchema>, kind: ThrottleKind, key: string): Promise<void> {
  await trx
    .updateTable("sign_in_throttle")
    .set({ failures: sql<number>`greatest(failures - 1, 0)` })
    .where("kind", "=", kind)
    .where("key", "=", key)
    .execute();
}

/** Deletes counters with no failure for `resetSeconds` and no wait pending. */
export async function deleteStaleCounters(
  db: { deleteFrom: Transaction<AccountsSchema>["deleteFrom"] },
  resetSeconds: number,
): Promise<number> {
  const result = await db
    .deleteFrom("sign_in_throttle")
    .where(sql<boolean>`last_failure_at < now() - ${resetSeconds}::float8 * interval '1 second'`)
    .where((eb) => eb.or([eb("locked_until", "is", null), eb("locked_until", "<", sql<Date>`now()`)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
