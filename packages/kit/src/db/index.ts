/**
 * A PostgreSQL database per service (`@obfy/kit/db`): configuration from the environment, a
 * typed query builder (Kysely on node-postgres) whose every value is a parameter, a pool with
 * a statement timeout and TLS, pool and query metrics, slow-query log lines, numbered
 * forward-only migrations applied under a lock, health that follows the database, and the
 * mapping of database errors to gRPC statuses. docs/data.md is the guide.
 * @packageDocumentation
 */

// The parts of Kysely a service's schema, queries and migrations need, so a service depends on
// the kit alone and every service uses the kit's one Kysely.
export {
  type ColumnType,
  type Generated,
  type Insertable,
  type Kysely,
  type Selectable,
  sql,
  type Transaction,
  type Updateable,
} from "kysely";
export {
  type DatabaseConfig,
  type DatabaseSslMode,
  type DatabaseTls,
  type ReadDatabaseConfigOptions,
  readDatabaseConfig,
  redactDatabaseUrl,
} from "./config.js";
export {
  type CreateDatabaseOptions,
  createDatabase,
  type Database,
  type TransactionOptions,
} from "./create-database.js";
export { createDatabaseErrorInterceptor, grpcErrorForDatabaseError, isDatabaseConnectionError } from "./errors.js";
export { type ChannelListener, type ChannelListenerOptions, listenToChannel } from "./listen.js";
export {
  defineMigrations,
  type Migration,
  MigrationError,
  type MigrationReport,
  type MigrationSet,
  migrate,
} from "./migrations.js";
