// Queries on sessions. A session is found by the SHA-256 of its token; the token is never stored.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { AccountsSchema } from "./schema.js";

type Db = Kysely<AccountsSchema> | Transaction<AccountsSchema>;

/** A session as stored. */
export type SessionRow = Selectable<AccountsSchema["sessions"]>;

const live = sql<boolean>`revoked_at is null and expires_at > now()`;

export function insertSession(
  db: Db,
  session: { id: string; accountId: string; tokenHash: Buffer; userAgent: string; ipAddress: string; idleDays: number },
): Promise<SessionRow> {
  return db
    .insertInto("sessions")
    .values({
      id: session.id,
      account_id: session.accountId,
      token_hash: session.tokenHash,
      user_agent: session.userAgent,
      ip_address: session.ipAddress,
      expires_at: sql<Date>`now() + ${session.idleDays}::int * interval '1 day'`,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The live session with this token hash, its last use and expiry moved on (a use). */
export function touchLiveSession(db: Db, tokenHash: Buffer, idleDays: number): Promise<SessionRow | undefined> {
  return db
    .updateTable("sessions")
    .set({
      last_used_at: sql<Date>`now()`,
      expires_at: sql<Date>`now() + ${idleDays}::int * interval '1 day'`,
    })
    .where("token_hash", "=", tokenHash)
    .where(live)
    .returningAll()
    .executeTakeFirst();
}

/** The live session with this token hash, unchanged. */
export function findLiveSession(db: Db, tokenHash: Buffer): Promise<SessionRow | undefined> {
  return db.selectFrom("sessions").selectAll().where("token_hash", "=", tokenHash).where(live).executeTakeFirst();
}

/** Revokes the session with this token hash if it is live; true when it was. */
export async function revokeByTokenHash(db: Db, tokenHash: Buffer): Promise<boolean> {
  const result = await db
    .updateTable("sessions")
    .set({ revoked_at: sql<Date>`now()` })
    .where("token_hash", "=", tokenHash)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** The account's session with this id (live or not), if it is the account's. */
export function findOwnSession(db: Db, accountId: string, sessionId: string): Promise<SessionRow | undefined> {
  return db
    .selectFrom("sessions")
    .selectAll()
    .where("id", "=", sessionId)
    .where("account_id", "=", accountId)
    .executeTakeFirst();
}

export async function revokeById(db: Db, sessionId: string): Promise<void> {
  await db
    .updateTable("sessions")
    .set({ revoked_at: sql<Date>`now()` })
    .where("id", "=", sessionId)
    .where("revoked_at", "is", null)
    .execute();
}

/** Revokes every live session of the account but `keep`; returns how many. */
export async function revokeOthers(db: Db, accountId: string, keep: string): Promise<number> {
  const result = await db
    .updateTable("sessions")
    .set({ revoked_at: sql<Date>`now()` })
    .where("account_id", "=", accountId)
    .where("id", "<>", keep)
    .where(live)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The account's live sessions, most recently used first. */
export function listLiveSessions(db: Db, accountId: string, signal?: AbortSignal): Promise<SessionRow[]> {
  return db
    .selectFrom("sessions")
    .selectAll()
    .where("account_id", "=", accountId)
    .where(live)
    .orderBy("last_used_at", "desc")
    .orderBy("id")
    .limit(1000)
    .execute({ signal });
}

/** Deletes sessions that ended (revoked or expired) more than `days` ago. */
export async function deleteEndedSessions(db: Db, days: number): Promise<number> {
  const result = await db
    .deleteFrom("sessions")
    .where(sql<boolean>`coalesce(revoked_at, expires_at) < now() - ${days}::int * interval '1 day'`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
