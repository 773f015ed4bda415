// Queries on OAuth2 clients.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { AccountsSchema } from "./schema.js";

type Db = Kysely<AccountsSchema> | Transaction<AccountsSchema>;

/** A client as stored. */
export type ClientRow = Selectable<AccountsSchema["clients"]>;

export function insertClient(
  db: Db,
  client: { id: string; displayName: string; allowedScopes: string[]; secretHash: Buffer; createdBy: string },
): Promise<ClientRow> {
  return db
    .insertInto("clients")
    .values({
      id: client.id,
      display_name: client.displayName,
      allowed_scopes: client.allowedScopes,
      secret_hash: client.secretHash,
      created_by: client.createdBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findClient(db: Db, id: string): Promise<ClientRow | undefined> {
  return db.selectFrom("clients").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Revokes the client (once: a later call keeps the first time); undefined when there is no such client. */
export async function revokeClient(db: Db, id: string): Promise<ClientRow | undefined> {
  await db
    .updateTable("clients")
    .set({ revoked_at: sql<Date>`now()` })
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .execute();
  return findClient(db, id);
}

/** One page of clients, newest first, before the serial `beforeSeq`. */
export function listClients(
  db: Db,
  options: { readonly beforeSeq: string | undefined; readonly limit: number },
  signal?: AbortSignal,
): Promise<ClientRow[]> {
  let query = db.selectFrom("clients").selectAll();
  if (options.beforeSeq !== undefined) query = query.where("seq", "<", options.beforeSeq);
  return query.orderBy("seq", "desc").limit(options.limit).execute({ signal });
}
