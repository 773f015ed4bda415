// Queries on the token signing keys (ES256), shared by every replica through the database.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { AccountsSchema, PrivateJwk, PublicJwk } from "./schema.js";

type Db = Kysely<AccountsSchema> | Transaction<AccountsSchema>;

/** A signing key as stored. */
export type SigningKeyRow = Selectable<AccountsSchema["signing_keys"]>;

/** Keys not retired at the database's clock, oldest first. */
export function findLiveKeys(db: Db): Promise<SigningKeyRow[]> {
  return db
    .selectFrom("signing_keys")
    .selectAll()
    .where((eb) => eb.or([eb("retire_at", "is", null), eb("retire_at", ">", sql<Date>`now()`)]))
    .orderBy("created_at")
    .orderBy("kid")
    .execute();
}

/** Stores a new key that signs from `activateAt`. */
export async function insertKey(
  db: Db,
  key: { kid: string; privateJwk: PrivateJwk; publicJwk: PublicJwk; activateAt: Date },
): Promise<void> {
  await db
    .insertInto("signing_keys")
    .values({
      kid: key.kid,
      private_jwk: JSON.stringify(key.privateJwk),
      public_jwk: JSON.stringify(key.publicJwk),
      activate_at: key.activateAt,
      retire_at: null,
    })
    .execute();
}

/** Sets `retireAt` on every key not yet scheduled to retire, except `keep`. */
export async function scheduleRetirement(db: Db, keep: string, retireAt: Date): Promise<void> {
  await db
    .updateTable("signing_keys")
    .set({ retire_at: retireAt })
    .where("retire_at", "is", null)
    .where("kid", "<>", keep)
    .execute();
}

/** The database's clock. */
export async function databaseNow(db: Db): Promise<Date> {
  const row = await sql<{ now: Date }>`select now() as now`.execute(db);
  return row.rows[0]?.now ?? new Date();
}

/** Deletes keys retired before `before` (long after every token they signed expired). */
export async function deleteRetiredKeys(db: Db, before: Date): Promise<number> {
  const result = await db.deleteFrom("signing_keys").where("retire_at", "<", before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Serialises key creation and rotation across replicas for the rest of the transaction. */
export async function lockKeys(trx: Transaction<AccountsSchema>): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('accounts.signing_keys'))`.execute(trx);
}
