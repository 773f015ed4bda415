import { type Kysely, sql } from "kysely";
import { type Migration as KyselyMigration, Migrator } from "kysely/migration";
import type { Logger } from "../logger.js";

/**
 * One forward-only schema change: a module in a service's `src/db/migrations/` exporting `up`.
 * It gets an untyped Kysely: a migration must keep working as written while the service's
 * schema type moves on, so it uses the schema builder or the `sql` tag, never the app's types.
 */
export interface Migration {
  up(db: Kysely<unknown>): Promise<void>;
}

/**
 * Numbered migrations under one name, applied in name order; see {@link defineMigrations}.
 * A service lists the kit's sets (the events module's outbox tables) before its own.
 */
export interface MigrationSet {
  /** `[a-z][a-z0-9_]*`, e.g. `catalog` or `events`; names the set's history table. */
  readonly name: string;
  /** Migration name (`0001-create-books`) → migration, sorted by name. */
  readonly migrations: Readonly<Record<string, Migration>>;
}

/** What {@link migrate} did. */
export interface MigrationReport {
  /** Migrations applied by this call, as `set/name`, in the order they ran. */
  readonly applied: readonly string[];
  /** Migrations found in the database that this code does not have (a newer release applied them). */
  readonly unknown: readonly string[];
}

/** A migration failed, or the database's migration history does not fit this code's. */
export class MigrationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MigrationError";
  }
}

const SET_NAME = /^[a-z][a-z0-9_]*$/;
const MIGRATION_NAME = /^(\d{4})-[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Declares a service's migrations, listed statically so the bundler includes them (services
 * ship as one esbuild bundle: there is no folder to scan at run time):
 *
 * ```ts
 * // src/db/migrations/index.ts
 * import * as createBooks from "./0001-create-books.js";
 * import * as addPrice from "./0002-add-price.js";
 * export const migrations = defineMigrations("catalog", {
 *   "0001-create-books": createBooks,
 *   "0002-add-price": addPrice,
 * });
 * ```
 *
 * Names are `NNNN-words-with-dashes`, each number used once. Throws on a bad name.
 */
export function defineMigrations(name: string, migrations: Readonly<Record<string, Migration>>): MigrationSet {
  if (!SET_NAME.test(name)) throw new Error(`Migration set name ${JSON.stringify(name)} must match ${SET_NAME}`);
  const numbers = new Map<string, string>();
  for (const [key, migration] of Object.entries(migrations)) {
    const match = MIGRATION_NAME.exec(key);
    if (!match?.[1]) {
      throw new Error(`Migration ${name}/${key}: the name must look like 0001-create-books (${MIGRATION_NAME})`);
    }
    const other = numbers.get(match[1]);
    if (other !== undefined) throw new Error(`Migrations ${name}/${other} and ${name}/${key} have the same number`);
    numbers.set(match[1], key);
    if (typeof migration?.up !== "function") throw new Error(`Migration ${name}/${key} does not export up(db)`);
  }
  const sorted = Object.fromEntries(Object.entries(migrations).sort(([a], [b]) => (a < b ? -1 : 1)));
  return Object.freeze({ name, migrations: Object.freeze(sorted) });
}

/** The history table of one set: Kysely's own format, one table per set. */
function historyTable(set: MigrationSet): string {
  return `kysely_migration_${set.name}`;
}

async function appliedNames(db: Kysely<unknown>, table: string): Promise<string[]> {
  const exists = await sql<{ exists: boolean }>`select to_regclass(${table}) is not null as exists`.execute(db);
  if (!exists.rows[0]?.exists) return [];
  const rows = await sql<{ name: string }>`select name from ${sql.table(table)}`.execute(db);
  return rows.rows.map((row) => row.name);
}

/**
 * Applies every pending migration of `sets`, set after set in the order given, through
 * Kysely's `Migrator`. Each set runs in one transaction under Kysely's PostgreSQL advisory lock,
 * so replicas starting together apply each migration exactly once: the others wait, then find
 * nothing left to do. Within a set, a migration whose name sorts before one already applied is
 * refused (forward-only: new migrations take the next number).
 *
 * Migrations that the database has and this code does not (a newer release ran them, and this
 * one is a rollback) are reported and logged, not an error, as long as none of this code's are
 * pending: migrations that only add keep older code working. `db` should have no statement
 * timeout (long index builds).
 */
export async function migrate(
  db: Kysely<unknown>,
  sets: readonly MigrationSet[],
  options: { readonly logger: Logger; readonly database: string },
): Promise<MigrationReport> {
  const names = new Set<string>();
  for (const set of sets) {
    if (names.has(set.name)) throw new Error(`Migration set ${set.name} is listed twice`);
    names.add(set.name);
  }
  const applied: string[] = [];
  const unknown: string[] = [];
  for (const set of sets) {
    const table = historyTable(set);
    const known = Object.keys(set.migrations);
    const inDatabase = await appliedNames(db, table);
    const newer = inDatabase.filter((name) => !Object.hasOwn(set.migrations, name)).sort();
    if (newer.length > 0) {
      const pending = known.filter((name) => !inDatabase.includes(name));
      const list = newer.map((name) => `${set.name}/${name}`);
      if (pending.length > 0) {
        throw new MigrationError(
          `The ${options.database} database has migrations this release does not have (${list.join(", ")}) ` +
            `and lacks some it has (${pending.map((name) => `${set.name}/${name}`).join(", ")}): ` +
            "it was migrated by a different branch of the code",
        );
      }
      options.logger.warn(
        { database: options.database, unknown_migrations: list },
        `The ${options.database} database has migrations newer than this release; running on its schema`,
      );
      unknown.push(...list);
      continue;
    }
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async (): Promise<Record<string, KyselyMigration>> => ({ ...set.migrations }) },
      migrationTableName: table,
    });
    const result = await migrator.migrateToLatest();
    const done = (result.results ?? [])
      .filter((r) => r.status === "Success")
      .map((r) => `${set.name}/${r.migrationName}`);
    if (result.error !== undefined) {
      const failed = result.results?.find((r) => r.status === "Error")?.migrationName;
      // Not a migration's fault (no connection, the history table): the caller words it.
      if (failed === undefined) throw result.error;
      const reason = result.error instanceof Error ? result.error.message : String(result.error);
      throw new MigrationError(
        `Migration ${set.name}/${failed} failed, nothing of set ${set.name} was applied: ${reason}`,
        {
          cause: result.error,
        },
      );
    }
    applied.push(...done);
  }
  if (applied.length > 0) {
    options.logger.info(
      { database: options.database, migrations: applied },
      `Applied ${applied.length} migration${applied.length === 1 ? "" : "s"} to the ${options.database} database`,
    );
  } else {
    options.logger.info({ database: options.database }, `The ${options.database} database schema is up to date`);
  }
  return { applied, unknown };
}
