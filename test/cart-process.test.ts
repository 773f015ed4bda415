// The Cart deployable as a process: the built bundle with real PostgreSQL and the pg-boss bus,
// tokens checked against a test key, a Catalog stand-in in this process and no Inventory at
// all. It answers health and an anonymous cart priced from the Catalog, with stock unknown
// (not an error) while the Inventory is away, merges it into a shopper's cart at sign-in, and
// exits 0 on SIGTERM.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "@obfy/kit/client";
import { createLogger, Unimplemented } from "@obfy/kit/core";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { createTestIdentity } from "@obfy/kit/dev";
import { createServer, defineService, type KitServer } from "@obfy/kit/server";
import { cartV1, catalogV1 } from "@obfy/protos";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { logRecords } from "./support/pages.js";
import { freePort, waitForGrpcServing } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const bundle = join(repoRoot, "services", "cart", "dist", "main.bundle.js");
const logger = createLogger({ name: "cart-process-test", level: "silent" });
const INHERITED =
  /^(TLS_|AUTH_|AUTHZ_|OTEL_|METRICS_|HEALTH_PORT$|PORT$|HOST$|LOG_|GRPC_|NODE_ENV$|DATABASE_|EVENT_BUS|CATALOG_|INVENTORY_)/;

/** A Catalog whose every book costs 12.50 USD (BatchGetBooks only). */
async function startCatalog(): Promise<{ server: KitServer; port: number }> {
  const unimplemented = () => {
    throw new Unimplemented("Not in this stand-in");
  };
  const server = createServer({
    logger,
    services: [
      defineService(catalogV1.CatalogServiceService, {
        listCategories: unimplemented,
        listBooks: unimplemented,
        getBook: unimplemented,
        batchGetBooks(request) {
          return {
            books: [...new Set(request.bookIds)].map((bookId) =>
              catalogV1.Book.fromPartial({
                bookId,
                title: `Book ${bookId}`,
                authors: ["A. Writer"],
                price: { currencyCode: "USD", amountMinor: 1250 },
              }),
            ),
            missingBookIds: [],
          };
        },
        searchBooks: unimplemented,
        getBookCover: unimplemented,
        createBook: unimplemented,
        updateBook: unimplemented,
        async importBooks() {
          return unimplemented();
        },
      }),
    ],
  });
  const { port } = await server.listen("127.0.0.1", 0);
  return { server, port };
}

describe("the cart process", () => {
  const databases: TestDatabase[] = [];
  let service: LoggedProcess | undefined;
  let catalog: KitServer | undefined;
  after(async () => {
    await service?.stop();
    await catalog?.shutdown();
    await Promise.all(databases.map((d) => d.drop()));
  });

  it("serves health and carts without the Inventory, and exits 0 on SIGTERM", async () => {
    assert.ok(existsSync(bundle), "run `npm run build` first: the test starts the built bundle");
    const [own, bus] = [await createTestDatabase(), await createTestDatabase()];
    databases.push(own, bus);
    const identity = await createTestIdentity();
    const started = await startCatalog();
    catalog = started.server;
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED.test(key)));
    service = spawnLogged(process.execPath, ["--enable-source-maps", bundle], {
      cwd: join(repoRoot, "services", "cart"),
      env: {
        ...base,
        ...identity.env,
        DATABASE_URL: own.url,
        EVENT_BUS: "postgres",
        EVENT_BUS_DATABASE_URL: bus.url,
        CATALOG_ADDRESS: `127.0.0.1:${started.port}`,
        // Nothing listens there.
        INVENTORY_ADDRESS: `127.0.0.1:${await freePort()}`,
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "0",
        LOG_FORMAT: "json",
        SHUTDOWN_GRACE_SECONDS: "20",
      },
    });
    await service.waitForLine(/"msg":"cart started/, 90_000);
    const record = logRecords(service.lines).find((r) => String(r.msg).startsWith("cart started"));
    const address = String(record?.address);
    await waitForGrpcServing(Number(address.split(":").at(-1)), 10_000);

    const client = createClient(cartV1.CartServiceService, address, { logger, retry: false });
    try {
      const cart = { anonymousCartId: randomUUID() };
      const added = (await client.addCartLine({ cart, bookId: "7", quantity: 2 }, { timeoutMs: 15_000 })).cart;
      assert.deepEqual(
        added?.lines.map((l) => [l.bookId, l.quantity, l.lineTotal?.amountMinor, l.stockUnknown, l.stockShort]),
        [["7", 2, 2500, true, false]],
      );
      assert.deepEqual(added?.subtotal, { currencyCode: "USD", amountMinor: 2500 });
      const shopper = await identity.metadata({ subject: randomUUID() });
      await client.addCartLine({ bookId: "7", quantity: 1 }, { metadata: shopper, timeoutMs: 15_000 });
      const merged = (
        await client.mergeCart({ anonymousCartId: cart.anonymousCartId }, { metadata: shopper, timeoutMs: 15_000 })
      ).cart;
      assert.deepEqual(
        merged?.lines.map((l) => [l.bookId, l.quantity]),
        [["7", 3]],
      );
      assert.deepEqual((await client.getCart({ cart }, { timeoutMs: 15_000 })).cart?.lines, []);
    } catch (error) {
      const warnings = service.lines.filter((line) => !line.includes('"level":30'));
      throw new Error(`${String(error)}\n${warnings.slice(-10).join("\n")}`, { cause: error });
    } finally {
      client.close();
    }

    const stopping = Date.now();
    service.kill("SIGTERM");
    assert.deepEqual(await service.exited, { code: 0, signal: null }, service.lines.slice(-20).join("\n"));
    const took = Date.now() - stopping;
    process.stdout.write(`# stopped in ${took} ms\n`);
    assert.ok(took < 15_000, `stopped in ${took} ms, not after the 20 s grace period`);
    const messages = logRecords(service.lines).map((r) => r.msg);
    assert.ok(messages.includes("Shut down gracefully"));
    assert.ok(!service.lines.join("\n").includes('"level":50'), "no error lines");
    assert.ok(
      messages.includes("Inventory did not answer; cart read without stock"),
      "the degraded read is logged as a warning",
    );
  });
});
