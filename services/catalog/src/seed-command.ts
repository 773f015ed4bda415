// `npm run seed -w @obfy/catalog`: migrates the database at DATABASE_URL and seeds it when it has
// no books (the same step the service runs at every start), then exits. Events of the seeded
// books wait in the outbox until the service's relay sends them.
import { createLogger } from "@obfy/kit/core";
import { createDatabase, readDatabaseConfig } from "@obfy/kit/db";
import { createEventBus, eventsMigrations, readEventBusConfig } from "@obfy/kit/events";
import { readCatalogConfig } from "./config.js";
import { catalogMigrations } from "./db/migrations/index.js";
import type { CatalogSchema } from "./db/schema.js";
import { loadCatalogData, seedCatalog } from "./seed.js";

const logger = createLogger({ name: "catalog-seed" });
const config = readCatalogConfig(process.env);
const data = loadCatalogData(config.dataFile);
const database = createDatabase<CatalogSchema>({
  config: readDatabaseConfig(process.env, { name: "catalog" }),
  logger,
  migrations: [eventsMigrations, catalogMigrations],
});
try {
  await database.migrate();
  // Only publish() is used: it writes to the outbox, and the running service's relay delivers.
  const bus = createEventBus<CatalogSchema>({
    service: "catalog",
    db: database.kysely,
    config: readEventBusConfig(process.env),
    logger,
    relay: false,
  });
  const seeded = await seedCatalog({ database, bus, data, logger });
  process.stdout.write(
    seeded > 0
      ? `Seeded ${seeded} books in ${data.categories.length} categories\n`
      : "The catalogue has books: nothing to seed\n",
  );
} finally {
  await database.close();
}
