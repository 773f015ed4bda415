// Measures checkout end to end: latency from PlaceOrder to CONFIRMED (seen on WatchOrder) at p50
// and p99, and confirmed orders per second, on the real Catalog, Inventory, Payments, Orders and
// Notifications processes (scripts/checkout-system.ts) over RabbitMQ or pg-boss. Shopper
// processes keep a fixed number of checkouts in flight (closed loop); every checkout tokenises a
// card, places an order for one copy and watches it. Bounded: at most 2,000 orders, 10 minutes.
// Afterwards the store checker (scripts/check-store.ts) runs on the services' databases.
//
//   node_modules/.bin/node --conditions=source --import tsx services/orders/scripts/measure-checkout.mjs \
//     [--orders 200] [--concurrency 8] [--processes 2] [--transport amqp|postgres] [--json]
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { inventoryV1 } from "@obfy/protos";
import pg from "pg";
import { checkStoreUntilSettled } from "../../../scripts/check-store.ts";
import { startCheckoutSystem } from "./checkout-system.ts";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const { values } = parseArgs({
  options: {
    orders: { type: "string", default: "200" },
    concurrency: { type: "string", default: "8" },
    processes: { type: "string", default: "2" },
    transport: { type: "string", default: "amqp" },
    json: { type: "boolean", default: false },
  },
});
const orders = Math.min(2000, Math.max(1, Number(values.orders)));
const processes = Math.min(8, Math.max(1, Number(values.processes)));
const concurrency = Math.max(processes, Math.min(64, Number(values.concurrency)));
const transport = values.transport === "postgres" ? "postgres" : "amqp";
const BOUND_MS = 600_000;
const say = (line) => process.stderr.write(`measure-checkout: ${line}\n`);

function runClient(options) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", "services/orders/scripts/checkout-client.ts", JSON.stringify(options)],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] },
    );
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), BOUND_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      const line = output.split("\n").find((l) => l.startsWith('{"pid"'));
      resolve(code === 0 && line ? JSON.parse(line) : { pid: 0, outcomes: [], errors: [`client exited ${code}`] });
    });
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

say(`starting catalog, inventory, payments, orders, notifications (bus ${transport})`);
const system = await startCheckoutSystem({ transport });
let exitCode = 0;
try {
  const logger = createLogger({ name: "measure-checkout", level: "silent" });
  const admin = await system.identity.metadata({ subject: "admin-1", role: "admin", expiresInSeconds: 3600 });
  const inventory = createClient(inventoryV1.InventoryServiceService, system.addresses.inventory, { logger });
  const bookId = "1";
  for (let i = 0; ; i++) {
    const { stock } = await inventory.getStock({ bookId });
    if (stock?.updateTime !== undefined) break;
    if (i > 240) throw new Error("the Inventory never created book 1's stock row");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await inventory.adjustStock(
    { bookId, delta: orders + 10, reason: "measure-checkout", idempotencyKey: "measure-stock" },
    { metadata: admin },
  );
  inventory.close();

  const tokens = await Promise.all(
    Array.from({ length: orders }, (_, i) =>
      system.identity.token({ subject: `measure-${i % 50}`, expiresInSeconds: 3600 }),
    ),
  );
  const startAt = Date.now() + 5000;
  say(`${orders} checkouts, ${concurrency} in flight from ${processes} processes`);
  const reports = await Promise.all(
    Array.from({ length: processes }, (_, p) =>
      runClient({
        orders: system.addresses.orders,
        payments: system.addresses.payments,
        tokens: tokens.filter((_, i) => i % processes === p),
        lines: [{ bookId, quantity: 1 }],
        card: "4242424242424242",
        startAt,
        timeoutMs: 120_000,
        concurrency: Math.ceil(concurrency / processes),
      }),
    ),
  );
  const wallMs = Date.now() - startAt;
  const outcomes = reports.flatMap((r) => r.outcomes);
  const errors = reports.flatMap((r) => r.errors);
  const confirmed = outcomes.filter((o) => o.status === "ORDER_STATUS_CONFIRMED");
  const latency = confirmed.map((o) => o.latencyMs).sort((a, b) => a - b);
  const place = outcomes.map((o) => o.placeMs).sort((a, b) => a - b);
  const check = await checkStoreUntilSettled(
    {
      orders: system.databaseUrls.orders,
      payments: system.databaseUrls.payments,
      inventory: system.databaseUrls.inventory,
      notifications: system.databaseUrls.notifications,
    },
    { waitSeconds: 120, placed: outcomes.map((o) => o.orderId) },
  );
  // Where the time went, from the order's own history: placed → stock reserved (the OrderPlaced
  // hop and Inventory), stock reserved → confirmed (the PaymentRequested hop and Payments).
  const steps = new pg.Client({ connectionString: system.databaseUrls.orders });
  await steps.connect();
  const { rows } = await steps.query(`
    select extract(epoch from r.created_at - o.created_at) * 1000 as stock_ms,
           extract(epoch from c.created_at - r.created_at) * 1000 as payment_ms
      from orders o
      join order_history r on r.order_id = o.id and r.note = 'Stock reserved'
      join order_history c on c.order_id = o.id and c.status = 'confirmed'`);
  await steps.end();
  const stockMs = rows.map((r) => Number(r.stock_ms)).sort((a, b) => a - b);
  const paymentMs = rows.map((r) => Number(r.payment_ms)).sort((a, b) => a - b);
  const result = {
    date: new Date().toISOString(),
    transport,
    orders,
    concurrency,
    processes,
    confirmed: confirmed.length,
    other: outcomes.length - confirmed.length,
    errors: errors.length,
    wall_s: Number((wallMs / 1000).toFixed(1)),
    orders_per_s: Number((confirmed.length / (wallMs / 1000)).toFixed(1)),
    confirm_p50_ms: Math.round(percentile(latency, 50)),
    confirm_p99_ms: Math.round(percentile(latency, 99)),
    place_p50_ms: Math.round(percentile(place, 50)),
    place_p99_ms: Math.round(percentile(place, 99)),
    stock_step_p50_ms: Math.round(percentile(stockMs, 50)),
    payment_step_p50_ms: Math.round(percentile(paymentMs, 50)),
    loadavg_1m: Number((await import("node:os")).loadavg()[0].toFixed(1)),
    store_check: check.ok ? "ok" : check.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      [
        `| bus | orders | in flight | confirmed | orders/s | place→confirmed p50 | p99 | PlaceOrder p50 | p99 | store check |`,
        `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
        `| ${transport} | ${orders} | ${concurrency} | ${confirmed.length} | ${result.orders_per_s} | ${result.confirm_p50_ms} ms | ${result.confirm_p99_ms} ms | ${result.place_p50_ms} ms | ${result.place_p99_ms} ms | ${check.ok ? "ok" : "FAIL"} |`,
        `wall ${result.wall_s} s, load average ${result.loadavg_1m}, errors ${errors.length}${errors.length > 0 ? ` (first: ${errors[0]})` : ""}`,
        `steps (p50, from the orders' history): placed → stock reserved ${result.stock_step_p50_ms} ms, stock reserved → confirmed ${result.payment_step_p50_ms} ms`,
        "",
      ].join("\n"),
    );
    if (!check.ok) process.stdout.write(`${JSON.stringify(result.store_check, null, 2)}\n`);
  }
  if (!check.ok || errors.length > 0 || confirmed.length !== orders) exitCode = 1;
} finally {
  const exits = await system.stop();
  const unclean = exits.filter((e) => e.code !== 0);
  if (unclean.length > 0) say(`unclean exits: ${JSON.stringify(unclean)}`);
}
process.exit(exitCode);
