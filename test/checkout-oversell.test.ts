// No overselling, end to end: the real Catalog, Inventory, Payments, Orders and Notifications, each its own OS
// process on its own database, over RabbitMQ; shopper processes (each with its own clients and
// channels) check out at the same instant, more checkouts than copies of one book: each
// tokenises a card with Payments, places an order and watches it to its end. Exactly K orders
// are confirmed and the others cancelled for stock (and, first, a declined card and a processing
// error end cancelled in the shopper's words); afterwards no stock is left reserved, every
// confirmed order was captured once and has one receipt, and the store checker
// (scripts/check-store.ts) agrees.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { catalogV1, inventoryV1 } from "@obfy/protos";
import pg from "pg";
import { checkStoreUntilSettled } from "../scripts/check-store.js";
import type { CheckoutOutcome } from "../services/orders/scripts/checkout-client.js";
import { type CheckoutSystem, startCheckoutSystem } from "../services/orders/scripts/checkout-system.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const K = 5;
const CLIENT_PROCESSES = 4;
const CHECKOUTS_PER_PROCESS = 5;
const N = CLIENT_PROCESSES * CHECKOUTS_PER_PROCESS;
// Bounds: each checkout must settle within the saga's own deadlines (30 s + 60 s), the run in 4 min.
const CHECKOUT_TIMEOUT_MS = 100_000;
const RUN_TIMEOUT_MS = 240_000;
const logger = createLogger({ name: "checkout-oversell-test", level: "silent" });

interface Report {
  readonly pid: number;
  readonly outcomes: readonly CheckoutOutcome[];
  readonly errors: readonly string[];
}

function runClient(options: object): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", "services/orders/scripts/checkout-client.ts", JSON.stringify(options)],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function rows<T>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

describe("no overselling through the whole checkout", () => {
  let system: CheckoutSystem | undefined;
  /** Orders the first test cancelled for their card (the store check counts them too). */
  let refusals = 0;

  before(async () => {
    system = await startCheckoutSystem({ transport: "amqp" });
  });
  after(async () => {
    await system?.stop();
  });

  it("with the real Payments, a declined card and a processing error end cancelled in the shopper's words, the stock released", async () => {
    assert.ok(system);
    const admin = await system.identity.metadata({ subject: "admin-1", role: "admin", expiresInSeconds: 3600 });
    const catalog = createClient(catalogV1.CatalogServiceService, system.addresses.catalog, { logger });
    const inventory = createClient(inventoryV1.InventoryServiceService, system.addresses.inventory, { logger });
    try {
      const { books } = await catalog.listBooks(catalogV1.ListBooksRequest.fromPartial({ pageSize: 2 }));
      const book = books[1];
      assert.ok(book);
      const row = await until("the book's stock row", async () => {
        const { stock } = await inventory.getStock({ bookId: book.bookId });
        return stock?.updateTime === undefined ? undefined : stock;
      });
      await inventory.adjustStock(
        { bookId: book.bookId, delta: 2, reason: "refusals test", idempotencyKey: "refusals-stock" },
        { metadata: admin },
      );
      const outcomes: CheckoutOutcome[] = [];
      for (const [card, subject] of [
        ["4000000000000002", "declined-shopper"],
        ["4000000000000119", "failed-shopper"],
      ] as const) {
        const result = await runClient({
          orders: system.addresses.orders,
          payments: system.addresses.payments,
          tokens: [await system.identity.token({ subject, expiresInSeconds: 3600 })],
          lines: [{ bookId: book.bookId, quantity: 2 }],
          card,
          startAt: 0,
          timeoutMs: CHECKOUT_TIMEOUT_MS,
        });
        const line = result.output.split("\n").find((l) => l.startsWith('{"pid"'));
        assert.ok(line, result.output);
        const report = JSON.parse(line) as Report;
        assert.deepEqual(report.errors, []);
        outcomes.push(...report.outcomes);
      }
      assert.deepEqual(
        outcomes.map((o) => [o.status, o.cancelCode, o.reason]),
        [
          ["ORDER_STATUS_CANCELLED", "CANCEL_CODE_PAYMENT_DECLINED", "Your card was declined"],
          [
            "ORDER_STATUS_CANCELLED",
            "CANCEL_CODE_PAYMENT_FAILED",
            "The payment could not be processed; you have not been charged",
          ],
        ],
      );
      // Both had reserved the two copies; OrderCancelled gave them back.
      await until("the releases", async () => {
        const { stock } = await inventory.getStock({ bookId: book.bookId });
        return stock?.available === row.onHand + 2 && stock.reserved === 0;
      });
      refusals += outcomes.length;
    } finally {
      catalog.close();
      inventory.close();
    }
  });

  it(`${N} checkouts from ${CLIENT_PROCESSES} processes for ${K} copies: exactly ${K} confirmed, the rest cancelled for stock`, async () => {
    assert.ok(system);
    const admin = await system.identity.metadata({ subject: "admin-1", role: "admin", expiresInSeconds: 3600 });
    const catalog = createClient(catalogV1.CatalogServiceService, system.addresses.catalog, { logger });
    const inventory = createClient(inventoryV1.InventoryServiceService, system.addresses.inventory, { logger });
    try {
      const { books } = await catalog.listBooks(catalogV1.ListBooksRequest.fromPartial({ pageSize: 1 }));
      const book = books[0];
      assert.ok(book, "the Catalog seeded its books");
      // The Inventory creates the book's row (from the Catalog's backfill or BookCreated); then it gets K copies.
      const row = await until("the book's stock row", async () => {
        const { stock } = await inventory.getStock({ bookId: book.bookId });
        return stock?.updateTime === undefined ? undefined : stock;
      });
      if (row.onHand !== K) {
        await inventory.adjustStock(
          { bookId: book.bookId, delta: K - row.onHand, reason: "oversell test", idempotencyKey: "oversell-stock" },
          { metadata: admin },
        );
      }
      assert.equal((await inventory.getStock({ bookId: book.bookId })).stock?.available, K);

      const startAt = Date.now() + 5000;
      const started = Date.now();
      const results = await Promise.all(
        Array.from({ length: CLIENT_PROCESSES }, async (_, p) => {
          const tokens = await Promise.all(
            Array.from({ length: CHECKOUTS_PER_PROCESS }, (_, i) =>
              system?.identity.token({ subject: `shopper-${p}-${i}`, expiresInSeconds: 3600 }),
            ),
          );
          return runClient({
            orders: system?.addresses.orders,
            payments: system?.addresses.payments,
            tokens,
            lines: [{ bookId: book.bookId, quantity: 1 }],
            card: "4242424242424242",
            startAt,
            timeoutMs: CHECKOUT_TIMEOUT_MS,
          });
        }),
      );
      const elapsedMs = Date.now() - started;
      const reports = results.map((r) => {
        assert.equal(r.code, 0, r.output);
        const line = r.output.split("\n").find((l) => l.startsWith('{"pid"'));
        assert.ok(line, r.output);
        return JSON.parse(line) as Report;
      });
      assert.equal(new Set(reports.map((r) => r.pid)).size, CLIENT_PROCESSES, "separate processes");
      assert.deepEqual(
        reports.flatMap((r) => r.errors),
        [],
      );
      const outcomes = reports.flatMap((r) => r.outcomes);
      assert.equal(outcomes.length, N);
      assert.equal(new Set(outcomes.map((o) => o.orderId)).size, N, "one order per checkout");
      const confirmed = outcomes.filter((o) => o.status === "ORDER_STATUS_CONFIRMED");
      const short = outcomes.filter(
        (o) => o.status === "ORDER_STATUS_CANCELLED" && o.cancelCode === "CANCEL_CODE_OUT_OF_STOCK",
      );
      assert.equal(confirmed.length, K, JSON.stringify(outcomes));
      assert.equal(short.length, N - K, JSON.stringify(outcomes));
      for (const o of short) assert.equal(o.reason, `Not enough stock for: ${book.title}`);
      assert.ok(
        outcomes.every((o) => o.latencyMs < CHECKOUT_TIMEOUT_MS),
        "each settled within its bound",
      );

      // Afterwards: the K copies left for good, nothing reserved, each confirmed order captured once.
      await until("the stock committed", async () => {
        const { stock } = await inventory.getStock({ bookId: book.bookId });
        return stock?.onHand === 0 && stock.reserved === 0;
      });
      const held = await rows<{ n: string }>(
        system.databaseUrls.inventory,
        "select count(*)::text as n from reservations where state = 'held'",
      );
      assert.equal(held[0]?.n, "0", "no stock left reserved");
      const report = await checkStoreUntilSettled(
        {
          orders: system.databaseUrls.orders,
          payments: system.databaseUrls.payments,
          inventory: system.databaseUrls.inventory,
          notifications: system.databaseUrls.notifications,
        },
        { waitSeconds: 60, placed: outcomes.map((o) => o.orderId) },
      );
      assert.ok(report.ok, JSON.stringify(report.checks.filter((c) => !c.ok)));
      assert.equal(report.counts["payments captured"], K);
      assert.equal(report.counts["orders confirmed"], K);
      assert.equal(report.counts["orders cancelled"], N - K + refusals);
      assert.equal(report.counts.receipts, K);
      const sorted = confirmed.map((o) => o.latencyMs).sort((a, b) => a - b);
      process.stdout.write(
        `# checkout oversell: N=${N} K=${K} processes=${CLIENT_PROCESSES} confirmed=${confirmed.length} ` +
          `cancelled_for_stock=${short.length} run=${elapsedMs} ms, confirmed latency min ${Math.round(sorted[0] ?? 0)} ` +
          `max ${Math.round(sorted.at(-1) ?? 0)} ms (bus ${system.transport})\n`,
      );
    } finally {
      catalog.close();
      inventory.close();
    }
    const exits = await system.stop();
    system = undefined;
    for (const exit of exits) assert.deepEqual([exit.name, exit.code], [exit.name, 0], JSON.stringify(exits));
  });
});
