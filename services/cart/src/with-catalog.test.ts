// The Cart with the real Catalog (its own database, seeded): prices and titles of the seeded
// books, a price an admin changes in the Catalog shows as changed in the cart.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { catalogService } from "@obfy/catalog";
import { ClientError, createClient, type ServiceClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { createTestIdentity } from "@obfy/kit/dev";
import { startService } from "@obfy/kit/service";
import { catalogV1 } from "@obfy/protos";
import { type CartHarness, startCartHarness } from "./fixtures/cart-harness.js";

describe("Cart with the real Catalog", () => {
  let h: CartHarness;
  let catalog: { stop(): Promise<void> } | undefined;
  let catalogClient: ServiceClient<typeof catalogV1.CatalogServiceService>;
  let admin: Record<string, string>;
  const databases: TestDatabase[] = [];
  const logger = createLogger({ name: "catalog", level: "silent" });

  before(async () => {
    const [own, bus] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    databases.push(own, bus);
    const identity = await createTestIdentity();
    admin = await identity.metadata({ subject: "admin-1", role: "admin", expiresInSeconds: 3600 });
    const started = await startService(catalogService, {
      env: {
        DATABASE_URL: own.url,
        EVENT_BUS: "postgres",
        EVENT_BUS_DATABASE_URL: bus.url,
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "off",
        LOG_LEVEL: "silent",
        SHUTDOWN_GRACE_SECONDS: "5",
        DATABASE_CONNECT_TIMEOUT_MS: "15000",
        DATABASE_POOL_MAX: "4",
        EVENT_BUS_POOL_SIZE: "2",
        ...identity.env,
      },
      logger,
    });
    catalog = started;
    catalogClient = createClient(catalogV1.CatalogServiceService, `127.0.0.1:${started.port}`, { logger });
    h = await startCartHarness({ env: { CATALOG_ADDRESS: `127.0.0.1:${started.port}` } });
  });
  after(async () => {
    catalogClient?.close();
    await h?.stop();
    await catalog?.stop();
    await Promise.all(databases.map((d) => d.drop()));
  });

  test("lines priced from the Catalog; an admin's price change is flagged; an unknown id is NOT_FOUND", async () => {
    const books = (await catalogClient.listBooks({ categoryId: "", orderBy: "", pageSize: 2, pageToken: "" })).books;
    const [a, b] = books;
    assert.ok(a?.price && b?.price, "the Catalog is seeded");
    const cart = { anonymousCartId: randomUUID() };
    await h.client.addCartLine({ cart, bookId: a.bookId, quantity: 2 });
    const read = (await h.client.addCartLine({ cart, bookId: b.bookId, quantity: 1 })).cart;
    assert.deepEqual(
      read?.lines.map((l) => [l.bookId, l.title, l.authors, l.unitPrice?.amountMinor, l.priceChanged]),
      [
        [a.bookId, a.title, a.authors, a.price.amountMinor, false],
        [b.bookId, b.title, b.authors, b.price.amountMinor, false],
      ],
    );
    assert.equal(read?.subtotal?.amountMinor, a.price.amountMinor * 2 + b.price.amountMinor);

    const raised = a.price.amountMinor + 100;
    await catalogClient.updateBook(
      { book: { ...a, price: { currencyCode: "USD", amountMinor: raised } }, updateMask: ["price"] },
      { metadata: admin },
    );
    const after = (await h.client.getCart({ cart })).cart;
    const line = after?.lines.find((l) => l.bookId === a.bookId);
    assert.deepEqual(
      [
        line?.priceChanged,
        line?.unitPrice?.amountMinor,
        line?.addedUnitPrice?.amountMinor,
        line?.lineTotal?.amountMinor,
      ],
      [true, raised, a.price.amountMinor, raised * 2],
    );
    await assert.rejects(
      h.client.addCartLine({ cart, bookId: "99999999", quantity: 1 }),
      (error: unknown) =>
        error instanceof ClientError && error.codeName === "NOT_FOUND" && error.details === "Book not found",
    );
  });
});
