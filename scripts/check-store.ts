// Proves the store's checkout invariants from each service's own database (docs/architecture.md,
// "The checkout saga"): no order lost, none stuck outside a final state, no payment captured
// twice, every confirmed order captured once with its stock committed, and exactly one receipt.
// Each service's data is read from its own database only; the cross-checks join them here.
//
//   npm run check:store -- [--wait 60] [--placed ids.txt] [--stuck-after 120] [--json]
//
// Databases: ORDERS_DATABASE_URL, PAYMENTS_DATABASE_URL, INVENTORY_DATABASE_URL,
// NOTIFICATIONS_DATABASE_URL; unset ones are the database of that name on DATABASE_URL's server,
// else on `npm start`'s embedded PostgreSQL (127.0.0.1:15432, password in .data/postgres-password).
// A service whose database does not exist is skipped, and said so. --wait re-checks for up to that
// many seconds while something is still in flight (a capture, a receipt, a saga step); --placed
// names a file of order ids (one a line, or a JSON array) that clients were answered with: each must exist.
// Exit status: 0 when every check holds, 1 when one fails, 2 for bad usage or an unreachable database.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";

/** Where each service's database is; an undefined one is not checked. */
export interface StoreDatabases {
  readonly orders: string;
  readonly payments?: string;
  readonly inventory?: string;
  readonly notifications?: string;
}

/** One invariant's verdict. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  /** Counts, or the first offending ids. */
  readonly detail: string;
}

/** What {@link checkStore} found. */
export interface StoreReport {
  readonly ok: boolean;
  readonly checks: readonly Check[];
  readonly counts: Readonly<Record<string, number>>;
  readonly skipped: readonly string[];
}

/** Options for {@link checkStore}. */
export interface CheckStoreOptions {
  /** A pending order older than this (seconds) is stuck; default 120 (stock 30 s + payment 60 s + slack). */
  readonly stuckAfterSeconds?: number;
  /** Order ids clients were answered with: each must exist. */
  readonly placed?: readonly string[];
}

interface OrderFacts {
  id: string;
  status: string;
  was_confirmed: boolean;
  payment_id: string | null;
  reservation_id: string | null;
  age_seconds: number;
}

async function query<T>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

const sample = (ids: readonly string[]) => `${ids.length}: ${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", …" : ""}`;

function check(name: string, bad: readonly string[], okDetail: string): Check {
  return { name, ok: bad.length === 0, detail: bad.length === 0 ? okDetail : sample(bad) };
}

/** Checks the invariants once. */
export async function checkStore(databases: StoreDatabases, options: CheckStoreOptions = {}): Promise<StoreReport> {
  const stuckAfter = options.stuckAfterSeconds ?? 120;
  const checks: Check[] = [];
  const counts: Record<string, number> = {};
  const skipped: string[] = [];

  const orders = await query<OrderFacts>(
    databases.orders,
    `select id::text, status, was_confirmed, payment_id, reservation_id,
            extract(epoch from now() - created_at)::float8 as age_seconds
       from orders`,
  );
  const byId = new Map(orders.map((o) => [o.id, o]));
  for (const o of orders) counts[`orders ${o.status}`] = (counts[`orders ${o.status}`] ?? 0) + 1;
  counts.orders = orders.length;
  /** Orders that were confirmed at some point: a receipt went, the payment was captured. */
  const everConfirmed = orders.filter(
    (o) => ["confirmed", "shipped", "delivered", "refunded"].includes(o.status) || o.was_confirmed,
  );
  const pending = orders.filter((o) => o.status === "pending");
  counts["orders in flight"] = pending.filter((o) => o.age_seconds <= stuckAfter).length;

  checks.push(
    check(
      "no order stuck outside a final state",
      pending.filter((o) => o.age_seconds > stuckAfter).map((o) => o.id),
      `${pending.length} pending, none older than ${stuckAfter} s`,
    ),
  );
  checks.push(
    check(
      "confirmed orders name their reservation and payment",
      everConfirmed.filter((o) => o.payment_id === null || o.reservation_id === null).map((o) => o.id),
      `${everConfirmed.length} confirmed at some point`,
    ),
  );
  if (options.placed !== undefined) {
    checks.push(
      check(
        "no order lost (every order a client was answered with exists)",
        options.placed.filter((id) => !byId.has(id)),
        `${options.placed.length} placed, all stored`,
      ),
    );
  }

  if (databases.payments === undefined) skipped.push("payments");
  else {
    const payments = await query<{ id: string; order_id: string; status: string; captured: boolean }>(
      databases.payments,
      `select id, order_id, status, captured_at is not null as captured from payments`,
    );
    const captures = await query<{ payment_id: string; n: string }>(
      databases.payments,
      `select payment_id, count(*)::text as n from payment_operations where kind = 'capture' group by payment_id`,
    );
    counts.payments = payments.length;
    counts["payments captured"] = payments.filter((p) => p.captured).length;
    const capturedPerOrder = new Map<string, number>();
    for (const p of payments)
      if (p.captured) capturedPerOrder.set(p.order_id, (capturedPerOrder.get(p.order_id) ?? 0) + 1);
    checks.push(
      check(
        "no payment captured twice",
        [
          ...[...capturedPerOrder].filter(([, n]) => n > 1).map(([id]) => `order ${id}`),
          ...captures.filter((c) => Number(c.n) > 1).map((c) => `payment ${c.payment_id}`),
        ],
        `${counts["payments captured"]} captured, each once, at most one per order`,
      ),
    );
    checks.push(
      check(
        "no order lost (every payment's order exists)",
        [...new Set(payments.map((p) => p.order_id))].filter((id) => !byId.has(id)),
        `${new Set(payments.map((p) => p.order_id)).size} orders with payments`,
      ),
    );
    checks.push(
      check(
        "every confirmed order's payment was captured once",
        everConfirmed.filter((o) => (capturedPerOrder.get(o.id) ?? 0) !== 1).map((o) => o.id),
        `${everConfirmed.length} captured`,
      ),
    );
    checks.push(
      check(
        "no money held or kept for an order without a sale",
        payments
          .filter(
            (p) =>
              (p.status === "authorized" || p.status === "captured") && byId.get(p.order_id)?.status === "cancelled",
          )
          .map((p) => `${p.id} (${p.status}, order ${p.order_id})`),
        "cancelled orders' payments are voided, refunded or were refused",
      ),
    );
  }

  if (databases.inventory === undefined) skipped.push("inventory");
  else {
    const reservations = await query<{ id: string; order_id: string; state: string; restocked: boolean }>(
      databases.inventory,
      `select id::text, order_id, state, restocked_at is not null as restocked from reservations where order_id is not null`,
    );
    const stock = await query<{ book_id: string; reserved: number; held: number }>(
      databases.inventory,
      `select s.book_id, s.reserved, coalesce(sum(l.quantity) filter (where r.state = 'held'), 0)::int as held
         from stock s
         left join reservation_lines l on l.book_id = s.book_id
         left join reservations r on r.id = l.reservation_id
        group by s.book_id, s.reserved`,
    );
    counts.reservations = reservations.length;
    counts["reservations held"] = reservations.filter((r) => r.state === "held").length;
    const byOrder = new Map(reservations.map((r) => [r.order_id, r]));
    checks.push(
      check(
        "no order lost (every reservation's order exists)",
        [...byOrder.keys()].filter((id) => !byId.has(id)),
        `${reservations.length} order reservations`,
      ),
    );
    checks.push(
      check(
        "every confirmed order's stock was committed",
        orders
          .filter((o) => ["confirmed", "shipped", "delivered", "refunded"].includes(o.status))
          .filter((o) => byOrder.get(o.id)?.state !== "confirmed")
          .map((o) => o.id),
        "their reservations are confirmed",
      ),
    );
    checks.push(
      check(
        "no stock left reserved for a settled order",
        reservations
          .filter((r) => r.state === "held" && byId.get(r.order_id)?.status === "cancelled")
          .map((r) => r.order_id),
        `${counts["reservations held"]} held, none for a cancelled order`,
      ),
    );
    checks.push(
      check(
        "each book's reserved count is what its held reservations hold",
        stock.filter((s) => s.reserved !== s.held).map((s) => `${s.book_id} (${s.reserved} vs ${s.held})`),
        `${stock.length} books`,
      ),
    );
  }

  if (databases.notifications === undefined) skipped.push("notifications");
  else {
    const receipts = await query<{ order_id: string; n: string; sent: string }>(
      databases.notifications,
      `select order_id, count(*)::text as n, count(*) filter (where status = 'sent')::text as sent
         from mails where kind = 'receipt' group by order_id`,
    );
    const receiptOf = new Map(receipts.map((r) => [r.order_id, r]));
    counts.receipts = receipts.length;
    checks.push(
      check(
        "every confirmed order has exactly one receipt, sent",
        everConfirmed
          .filter((o) => receiptOf.get(o.id)?.n !== "1" || receiptOf.get(o.id)?.sent !== "1")
          .map((o) => o.id),
        `${everConfirmed.length} receipts`,
      ),
    );
    const confirmedIds = new Set(everConfirmed.map((o) => o.id));
    checks.push(
      check(
        "no receipt for an order that was never confirmed",
        receipts.filter((r) => !confirmedIds.has(r.order_id)).map((r) => r.order_id),
        "none",
      ),
    );
  }
  return { ok: checks.every((c) => c.ok), checks, counts, skipped };
}

/** Checks until every check holds or `waitSeconds` pass; the last report. */
export async function checkStoreUntilSettled(
  databases: StoreDatabases,
  options: CheckStoreOptions & { readonly waitSeconds: number },
): Promise<StoreReport> {
  const deadline = Date.now() + options.waitSeconds * 1000;
  while (true) {
    const report = await checkStore(databases, options);
    if (report.ok || Date.now() >= deadline) return report;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** The databases from the environment, as the header says. */
export function databasesFromEnv(env: NodeJS.ProcessEnv = process.env): Record<keyof StoreDatabases, string> {
  let server = env.DATABASE_URL?.trim();
  if (!server) {
    const repoRoot = fileURLToPath(new URL("..", import.meta.url));
    const dataDir = env.DATA_DIR?.trim() || join(repoRoot, ".data");
    const file = join(dataDir, "postgres-password");
    const password = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    const port = env.EMBEDDED_POSTGRES_PORT?.trim() || "15432";
    server = `postgres://postgres${password ? `:${encodeURIComponent(password)}` : ""}@127.0.0.1:${port}/postgres`;
  }
  const on = (name: string) => {
    const url = new URL(server);
    url.pathname = `/${name}`;
    return url.href;
  };
  const pick = (name: "orders" | "payments" | "inventory" | "notifications") =>
    env[`${name.toUpperCase()}_DATABASE_URL`]?.trim() || on(name);
  return {
    orders: pick("orders"),
    payments: pick("payments"),
    inventory: pick("inventory"),
    notifications: pick("notifications"),
  };
}

async function exists(url: string): Promise<boolean> {
  try {
    await query(url, "select 1");
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === "3D000") return false;
    throw error;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      wait: { type: "string", default: "0" },
      placed: { type: "string" },
      "stuck-after": { type: "string", default: "120" },
      json: { type: "boolean", default: false },
    },
  });
  const waitSeconds = Number(values.wait);
  const stuckAfterSeconds = Number(values["stuck-after"]);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0 || !Number.isFinite(stuckAfterSeconds)) {
    process.stderr.write("check-store: --wait and --stuck-after take seconds\n");
    process.exit(2);
  }
  let placed: string[] | undefined;
  if (values.placed !== undefined) {
    const text = readFileSync(values.placed, "utf8").trim();
    placed = text.startsWith("[") ? (JSON.parse(text) as string[]) : text.split(/\s+/).filter((id) => id !== "");
  }
  const urls = databasesFromEnv();
  const databases: { -readonly [K in keyof StoreDatabases]: StoreDatabases[K] } = { orders: urls.orders };
  try {
    if (!(await exists(urls.orders))) throw new Error("the orders database does not exist");
    for (const name of ["payments", "inventory", "notifications"] as const) {
      if (await exists(urls[name])) databases[name] = urls[name];
    }
  } catch (error) {
    process.stderr.write(`check-store: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const report = await checkStoreUntilSettled(databases, { waitSeconds, stuckAfterSeconds, placed });
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    for (const c of report.checks) process.stdout.write(`${c.ok ? "ok  " : "FAIL"}  ${c.name}: ${c.detail}\n`);
    process.stdout.write(
      `counts: ${Object.entries(report.counts)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ")}\n`,
    );
    if (report.skipped.length > 0) process.stdout.write(`skipped (no database): ${report.skipped.join(", ")}\n`);
  }
  process.exit(report.ok ? 0 : 1);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
