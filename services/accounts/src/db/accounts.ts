// Queries on accounts.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { AccountRole, AccountsSchema } from "./schema.js";

type Db = Kysely<AccountsSchema> | Transaction<AccountsSchema>;

/** An account as stored. */
export type AccountRow = Selectable<AccountsSchema["accounts"]>;

/** Creates an account unless the email is taken (the unique constraint decides, even under concurrent sign-ups). */
export async function insertAccount(
  db: Db,
  account: { id: string; email: string; passwordHash: string; role: AccountRole },
): Promise<AccountRow | undefined> {
  return db
    .insertInto("accounts")
    .values({ id: account.id, email: account.email, password_hash: account.passwordHash, role: account.role })
    .onConflict((c) => c.column("email").doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function findAccountByEmail(db: Db, email: string): Promise<AccountRow | undefined> {
  return db.selectFrom("accounts").selectAll().where("email", "=", email).executeTakeFirst();
}

export function findAccountById(db: Db, id: string, options: { lock?: boolean } = {}): Promise<AccountRow | undefined> {
  const query = db.selectFrom("accounts").selectAll().where("id", "=", id);
  return (options.lock ? query.forUpdate() : query).executeTakeFirst();
}

export async function updatePasswordHash(db: Db, id: string, passwordHash: string, changed: boolean): Promise<void> {
  await db
    .updateTable("accounts")
    .set(changed ? { password_hash: passwordHash, password_changed_at: new Date() } : { password_hash: passwordHash })
    .where("id", "=", id)
    .execute();
}

export async function setRole(db: Db, id: string, role: AccountRole): Promise<void> {
  await db.updateTable("accounts").set({ role }).where("id", "=", id).execute();
}

/** True when some account has role admin. */
export async function adminExists(db: Db): Promise<boolean> {
  return (
    (await db.selectFrom("accounts").select("id").where("role", "=", "admin").limit(1).executeTakeFirst()) !== undefined
  );
}

/** One page of accounts in email (byte) order after `afterEmail`, optionally only emails containing `contains`. */
export function listAccounts(
  db: Db,
  options: { readonly afterEmail: string | undefined; readonly contains: string; readonly limit: number },
  signal?: AbortSignal,
): Promise<AccountRow[]> {
  let query = db.selectFrom("accounts").selectAll();
  // strpos, not LIKE: the text is matched as it is, % and _ included.
  if (options.contains !== "") query = query.where(sql<boolean>`strpos(email, ${options.contains}) > 0`);
  if (options.afterEmail !== undefined) query = query.where(sql<boolean>`email collate "C" > ${options.afterEmail}`);
  return query.orderBy(sql`email collate "C"`).limit(options.limit).execute({ signal });
}

/** Serialises the first-admin bootstrap across replicas for the rest of the transaction. */
export async function lockAdminBootstrap(trx: Transaction<AccountsSchema>): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('accounts.admin_bootstrap'))`.execute(trx);
}
