// The fault proof of the checkout (issue 15, "Faults under a steady checkout load"): the real
// Catalog, Inventory, Payments, Orders and Notifications processes (checkout-system.ts) on a
// RabbitMQ node and a PostgreSQL server of this run's own (never the machine's shared ones, which
// other work uses), under a steady closed-loop checkout load (checkout-load-client.ts). In order,
// it SIGKILLs each service and starts it again (catalog, inventory, payments, orders,
// notifications), then restarts RabbitMQ, then restarts PostgreSQL. Before each fault and after
// the last, `--per-fault` more checkouts must be confirmed; after each fault it waits for the
// store to recover: a checkout begun after the fault is confirmed and its receipt sent.
// Then the load stops, every checkout settles, and the store checker (scripts/check-store.ts)
// proves from each service's own database: no order lost (every PlaceOrder that returned an id
// exists, and every checkout was answered with one), no payment captured twice, no order stuck
// outside a final state, every confirmed order captured once, its stock committed, and exactly
// one receipt. Bounded: at most --max-orders checkouts and --bound-s seconds of load.
//
//   node_modules/.bin/node --conditions=source --import tsx services/orders/scripts/checkout-faults.ts \
//     [--per-fault 5] [--concurrency 4] [--processes 2] [--max-orders 600] [--bound-s 900] [--decline-every 10] \
//     [--faults catalog,inventory,payments,orders,notifications,rabbitmq,postgres] [--logs DIR] [--json]
//
// --decline-every N: every Nth checkout of a shopper process pays with the declined test card, so
// cancellations and their compensations (the stock released) run under the faults too; 0 for none.
// --logs writes every service process's output there (one file per process, the killed ones too).
//
// Needs root and rabbitmq-server installed (the private broker runs as the rabbitmq user), as CI
// has. Exit status 0 when every invariant holds and every fault recovered, 1 otherwise.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { inventoryV1 } from "@obfy/protos";
import pg from "pg";
import { startPrivateRabbitMQ } from "../../../packages/kit/src/events/fixtures/private-rabbitmq.js";
import { checkStoreUntilSettled, type StoreReport } from "../../../scripts/check-store.js";
import { type EmbeddedPostgres, freePort, startEmbeddedPostgres } from "../../../scripts/embedded-postgres.mjs";
import {
  CHECKOUT_SERVICES,
  type CheckoutService,
  type ServiceProcess,
  startCheckoutSystem,
} from "./checkout-system.js";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** The faults, in the order they are applied. */
export const FAULTS = [...CHECKOUT_SERVICES, "rabbitmq", "postgres"] as const;
export type FaultName = (typeof FAULTS)[number];

/** Options of {@link runCheckoutFaults}. */
export interface CheckoutFaultsOptions {
  /** Checkouts confirmed before each fault and after the last (default 5). */
  readonly perFault?: number;
  /** Checkouts in flight (default 4). */
  readonly concurrency?: number;
  /** Shopper processes the load runs in (default 2). */
  readonly processes?: number;
  /** At most this many checkouts (default 600). */
  readonly maxOrders?: number;
  /** The load stops starting checkouts after this long (default 900 s). */
  readonly boundMs?: number;
  /** Default all of {@link FAULTS}, in that order. */
  readonly faults?: readonly FaultName[];
  /** How long one fault may take to recover (default 180 s). */
  readonly recoveryTimeoutMs?: number;
  /** Every Nth checkout of a shopper process pays with the declined test card; 0 for none (default 10). */
  readonly declineEvery?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** A folder to write every service process's output to, one file per process. */
  readonly logsDir?: string;
  /** Aborting it ends the run early: the load stops, everything started is stopped and removed. */
  readonly signal?: AbortSignal;
}

/** One fault applied. */
export interface FaultReport {
  readonly fault: FaultName;
  /** What was done: `SIGKILL, restarted` or `restarted`. */
  readonly action: string;
  /** For a killed service: how its process ended. */
  readonly exit?: string;
  /** Fault applied → the service (or server) accepting work again, in ms. */
  readonly downMs: number;
  /**
   * Fault applied → the first checkout begun once the service was back confirmed, with its receipt
   * sent, in ms: the store taking new orders end to end again; null if never.
   */
  readonly recoveryMs: number | null;
  /** Fault applied → every checkout begun before the service was back in a final state, in ms. */
  readonly settledMs: number | null;
  /** Checkouts in flight when the fault was applied. */
  readonly inFlight: number;
}

/** What {@link runCheckoutFaults} found. */
export interface CheckoutFaultsReport {
  readonly ok: boolean;
  /** Why not ok, one line each. */
  readonly failures: readonly string[];
  /** Checkouts begun. */
  readonly started: number;
  /** Checkouts whose PlaceOrder returned an order id. */
  readonly placed: number;
  /** PlaceOrder calls sent again (same idempotency key) after a failure. */
  readonly placeRetries: number;
  /** Orders stored by the Orders (must equal `placed`: a retried PlaceOrder makes no second order). */
  readonly ordersStored: number;
  readonly confirmed: number;
  /** Cancelled orders by their cancel code, from the Orders' database. */
  readonly cancelled: Readonly<Record<string, number>>;
  /** Payments captured, from the Payments' database. */
  readonly captures: number;
  /** Receipts, from the Notifications' database. */
  readonly receipts: number;
  /** Checkouts the client gave up on (none may be). */
  readonly givenUp: number;
  /** Checkouts paid with the declined test card (each must end cancelled, declined). */
  readonly declineCards: number;
  readonly faults: readonly FaultReport[];
  readonly check: StoreReport;
  /** PlaceOrder sent → final status seen, confirmed orders, ms. */
  readonly confirmP50Ms: number;
  readonly confirmP99Ms: number;
  readonly wallS: number;
  readonly loadavg1m: number;
  readonly concurrency: number;
  readonly processes: number;
  readonly perFault: number;
}

interface Checkout {
  startedAt: number;
  declineCard: boolean;
  orderId?: string;
  attempts?: number;
  status?: string;
  cancelCode?: string;
  finalAt?: number;
  latencyMs?: number;
  error?: string;
}

interface LoadClient {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly stderr: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** A PostgreSQL server of this run's own that can be stopped and started again on the same data and port. */
async function startPrivatePostgres(): Promise<{
  readonly url: string;
  restart(): Promise<void>;
  destroy(): Promise<void>;
}> {
  const root = mkdtempSync(join(tmpdir(), "obfy-checkout-faults-"));
  // Run as root, PostgreSQL runs as the OS user postgres, which must be able to enter the folder.
  chmodSync(root, 0o755);
  const options = {
    dataDir: join(root, "postgres"),
    port: await freePort(),
    password: randomBytes(12).toString("hex"),
  };
  let server: EmbeddedPostgres | undefined;
  try {
    server = await startEmbeddedPostgres(options);
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const url = server.url;
  return {
    url,
    async restart() {
      await server?.stop();
      server = undefined;
      server = await startEmbeddedPostgres(options);
    },
    async destroy() {
      await server?.stop();
      server = undefined;
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Runs the load, the faults and the checker; see the top of this file. */
export async function runCheckoutFaults(options: CheckoutFaultsOptions = {}): Promise<CheckoutFaultsReport> {
  const perFault = Math.max(1, options.perFault ?? 5);
  const concurrency = Math.max(1, Math.min(64, options.concurrency ?? 4));
  const processes = Math.max(1, Math.min(8, options.processes ?? 2, concurrency));
  const maxOrders = Math.max(1, Math.min(5000, options.maxOrders ?? 600));
  const boundMs = options.boundMs ?? 900_000;
  const faults = options.faults ?? FAULTS;
  const recoveryTimeoutMs = options.recoveryTimeoutMs ?? 180_000;
  const declineEvery = Math.max(0, options.declineEvery ?? 10);
  const began = Date.now();
  /** A pause in the run's waits, which an abort ends. */
  const tick = async (ms: number) => {
    await sleep(ms);
    options.signal?.throwIfAborted();
  };
  const log = options.log ?? (() => {});
  const say = (line: string) => log(`${((Date.now() - began) / 1000).toFixed(1).padStart(6)} s  ${line}`);
  const failures: string[] = [];

  say("starting a private RabbitMQ node and a private PostgreSQL");
  const [rabbit, postgres] = await Promise.all([startPrivateRabbitMQ(), startPrivatePostgres()]);
  const cleanup: (() => Promise<void>)[] = [() => rabbit.destroy(), () => postgres.destroy()];
  const clients: LoadClient[] = [];
  /** Every service process, the killed ones too, for the logs. */
  const serviceProcesses: ServiceProcess[] = [];
  try {
    options.signal?.throwIfAborted();
    say("starting catalog, inventory, payments, orders, notifications");
    const system = await startCheckoutSystem({
      transport: "amqp",
      amqpUrl: rabbit.url,
      databaseServerUrl: postgres.url,
      // The private server is this run's alone: the pools may be as large as usual.
      env: { DATABASE_POOL_MAX: "6" },
    });
    const restarting = new Set<CheckoutService>();
    const watchExit = (p: ServiceProcess) => {
      serviceProcesses.push(p);
      void p.exited.then((exit) => {
        if (restarting.has(p.name) || stopping) return;
        const line = `${p.name} exited by itself (${exit.signal ?? `code ${exit.code}`}): ${p.lines.slice(-8).join(" | ")}`;
        failures.push(line);
        say(line);
      });
    };
    let stopping = false;
    for (const name of CHECKOUT_SERVICES) watchExit(system.processes[name]);
    cleanup.unshift(async () => {
      stopping = true;
      if (options.logsDir !== undefined) {
        mkdirSync(options.logsDir, { recursive: true });
        const seen = new Map<string, number>();
        for (const p of serviceProcesses) {
          const n = (seen.get(p.name) ?? 0) + 1;
          seen.set(p.name, n);
          writeFileSync(join(options.logsDir, `${p.name}-${n}.log`), `${p.lines.join("\n")}\n`);
        }
      }
      const exits = await system.stop();
      const unclean = exits.filter((e) => e.code !== 0);
      if (unclean.length > 0) say(`unclean exits at the end: ${JSON.stringify(unclean)}`);
    });
    const logger = createLogger({ name: "checkout-faults", level: "silent" });
    const admin = await system.identity.metadata({ subject: "admin-1", role: "admin", expiresInSeconds: 7200 });
    const inventory = createClient(inventoryV1.InventoryServiceService, system.addresses.inventory, { logger });
    const bookId = "1";
    try {
      for (let i = 0; ; i++) {
        const { stock } = await inventory.getStock({ bookId });
        if (stock?.updateTime !== undefined) break;
        if (i > 240) throw new Error("the Inventory never created book 1's stock row");
        await tick(250);
      }
      await inventory.adjustStock(
        { bookId, delta: maxOrders + 10, reason: "checkout-faults", idempotencyKey: "checkout-faults-stock" },
        { metadata: admin },
      );
    } finally {
      inventory.close();
    }

    // The load.
    const checkouts = new Map<string, Checkout>();
    const tokens = await Promise.all(
      Array.from({ length: 20 }, (_, i) => system.identity.token({ subject: `shopper-${i}`, expiresInSeconds: 7200 })),
    );
    const stopAt = Date.now() + boundMs;
    const giveUpMs = 240_000;
    for (let p = 0; p < processes; p++) {
      const child = spawn(
        process.execPath,
        [
          "--conditions=source",
          "--import",
          "tsx",
          "services/orders/scripts/checkout-load-client.ts",
          JSON.stringify({
            orders: system.addresses.orders,
            payments: system.addresses.payments,
            tokens: tokens.filter((_, i) => i % processes === p),
            lines: [{ bookId, quantity: 1 }],
            card: "4242424242424242",
            concurrency: Math.ceil(concurrency / processes),
            maxCheckouts: Math.ceil(maxOrders / processes),
            stopAt,
            giveUpMs,
            declineEvery,
            declineCard: "4000000000000002",
          }),
        ],
        { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] },
      );
      const stderr: string[] = [];
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        let event: { e: string; key: string; at: number } & Record<string, unknown>;
        try {
          event = JSON.parse(line);
        } catch {
          return;
        }
        if (event.e === "start") {
          checkouts.set(event.key, { startedAt: event.at, declineCard: event.card === "decline" });
        }
        const c = checkouts.get(event.key);
        if (c === undefined) return;
        if (event.e === "placed") {
          c.orderId = String(event.orderId);
          c.attempts = Number(event.attempts);
        } else if (event.e === "final") {
          c.status = String(event.status);
          c.cancelCode = String(event.cancelCode);
          c.finalAt = event.at;
          c.latencyMs = Number(event.latencyMs);
        } else if (event.e === "error") c.error = `${event.stage}: ${event.message}`;
      });
      createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => {
        if (stderr.length < 200) stderr.push(line);
      });
      clients.push({ child, exited, stderr });
    }
    const all = () => [...checkouts.values()];
    const confirmed = () => all().filter((c) => c.status === "ORDER_STATUS_CONFIRMED");
    const inFlight = () => all().filter((c) => c.finalAt === undefined && c.error === undefined).length;
    const waitConfirmed = async (count: number, what: string) => {
      const deadline = Date.now() + recoveryTimeoutMs;
      while (confirmed().length < count) {
        if (Date.now() > deadline) throw new Error(`${what}: ${confirmed().length} of ${count} checkouts confirmed`);
        if (clients.every((c) => c.child.exitCode !== null)) {
          throw new Error(
            `${what}: the load ended (${all().length} begun): ${clients
              .flatMap((c) => c.stderr)
              .slice(-5)
              .join(" | ")}`,
          );
        }
        await tick(200);
      }
    };
    /** When a receipt for one of `orderIds` was sent, by order id; nothing while PostgreSQL is away. */
    const receiptsSent = async (orderIds: readonly string[]): Promise<Map<string, number>> => {
      if (orderIds.length === 0) return new Map();
      const client = new pg.Client({
        connectionString: system.databaseUrls.notifications,
        connectionTimeoutMillis: 2000,
      });
      client.on("error", () => {});
      try {
        await client.connect();
        const { rows } = await client.query<{ order_id: string; sent_at: Date }>(
          "select order_id, sent_at from mails where kind = 'receipt' and status = 'sent' and order_id = any($1::text[])",
          [orderIds],
        );
        return new Map(rows.map((r) => [r.order_id, r.sent_at.getTime()]));
      } catch {
        return new Map();
      } finally {
        await client.end().catch(() => {});
      }
    };
    const waitRecovered = async (since: number, upAt: number): Promise<number | null> => {
      const deadline = since + recoveryTimeoutMs;
      while (Date.now() < deadline) {
        const candidates = confirmed().filter((c) => c.startedAt >= upAt && c.orderId !== undefined);
        const sent = await receiptsSent(candidates.map((c) => c.orderId as string));
        const times = candidates
          .filter((c) => sent.has(c.orderId as string))
          .map((c) => Math.max(c.finalAt ?? 0, sent.get(c.orderId as string) ?? 0) - since);
        if (times.length > 0) return Math.min(...times);
        await tick(250);
      }
      return null;
    };

    say(`load: ${concurrency} checkouts in flight from ${processes} processes, ${perFault} confirmed per fault`);
    const applied: (Omit<FaultReport, "settledMs"> & { at: number; upAt: number })[] = [];
    try {
      await waitConfirmed(perFault, "before the first fault");
      for (const fault of faults) {
        const at = Date.now();
        const flying = inFlight();
        let action = "restarted";
        let exit: string | undefined;
        if (fault === "rabbitmq") {
          await rabbit.stop();
          await rabbit.start();
        } else if (fault === "postgres") {
          await postgres.restart();
        } else {
          restarting.add(fault);
          const restart = await system.restart(fault, "SIGKILL").finally(() => restarting.delete(fault));
          watchExit(system.processes[fault]);
          action = "SIGKILL, restarted";
          exit = restart.exit.signal ?? `code ${restart.exit.code}`;
          if (restart.exit.signal !== "SIGKILL") failures.push(`${fault} did not die of SIGKILL: ${exit}`);
        }
        const upAt = Date.now();
        const downMs = upAt - at;
        const recoveryMs = await waitRecovered(at, upAt);
        applied.push({
          fault,
          action,
          ...(exit === undefined ? {} : { exit }),
          downMs,
          recoveryMs,
          inFlight: flying,
          at,
          upAt,
        });
        say(
          `${fault}: ${action} with ${flying} in flight; back in ${(downMs / 1000).toFixed(1)} s, ` +
            `recovered in ${recoveryMs === null ? "never" : `${(recoveryMs / 1000).toFixed(1)} s`}`,
        );
        if (recoveryMs === null) {
          failures.push(
            `${fault}: no checkout begun after the fault was confirmed with its receipt within ${recoveryTimeoutMs} ms`,
          );
          break;
        }
        await waitConfirmed(confirmed().length + perFault, `after ${fault}`);
      }
    } catch (error) {
      failures.push((error as Error).message);
    }

    options.signal?.throwIfAborted();
    // After a failure, in-flight checkouts may never settle: wait less for them.
    const settleMs = failures.length === 0 ? giveUpMs + 30_000 : 30_000;
    say(`stopping the load (${all().length} begun, ${inFlight()} in flight)`);
    for (const c of clients) c.child.stdin?.end("stop\n");
    const exits = await Promise.all(
      clients.map((c) => Promise.race([c.exited, sleep(settleMs).then(() => "timeout" as const)])),
    );
    options.signal?.throwIfAborted();
    for (const [i, code] of exits.entries()) {
      if (code !== 0) failures.push(`load client ${i} ended ${code}: ${clients[i]?.stderr.slice(-5).join(" | ")}`);
    }

    const outcomes = all();
    const reports: FaultReport[] = applied.map(({ at, upAt, ...fault }) => {
      const caught = outcomes.filter((c) => c.startedAt < upAt && (c.finalAt === undefined || c.finalAt > at));
      const unsettled = caught.some((c) => c.finalAt === undefined);
      const settledMs = unsettled ? null : Math.max(0, ...caught.map((c) => (c.finalAt ?? at) - at));
      return { ...fault, settledMs };
    });
    const placedIds = outcomes.flatMap((c) => (c.orderId === undefined ? [] : [c.orderId]));
    const givenUp = outcomes.filter((c) => c.error !== undefined);
    if (givenUp.length > 0) failures.push(`checkouts given up: ${givenUp.length} (first: ${givenUp[0]?.error})`);
    const wrong = outcomes.filter(
      (c) =>
        c.status !== undefined &&
        (c.declineCard
          ? c.status !== "ORDER_STATUS_CANCELLED" || c.cancelCode !== "CANCEL_CODE_PAYMENT_DECLINED"
          : c.cancelCode === "CANCEL_CODE_PAYMENT_DECLINED"),
    );
    if (wrong.length > 0) {
      failures.push(
        `checkouts whose end does not match their card: ${wrong.length} (first: ${wrong[0]?.orderId} ${wrong[0]?.status} ${wrong[0]?.cancelCode})`,
      );
    }
    const notFinal = outcomes.filter(
      (c) => c.orderId !== undefined && c.finalAt === undefined && c.error === undefined,
    );
    if (notFinal.length > 0) failures.push(`orders the client never saw final: ${notFinal.length}`);

    say("checking the store");
    const check = await checkStoreUntilSettled(
      {
        orders: system.databaseUrls.orders,
        payments: system.databaseUrls.payments,
        inventory: system.databaseUrls.inventory,
        notifications: system.databaseUrls.notifications,
      },
      { waitSeconds: failures.length === 0 ? 120 : 30, placed: placedIds },
    );
    for (const c of check.checks) if (!c.ok) failures.push(`${c.name}: ${c.detail}`);
    const db = new pg.Client({ connectionString: system.databaseUrls.orders });
    await db.connect();
    const { rows } = await db
      .query<{ cancel_code: string; n: string }>(
        "select coalesce(cancel_code, 'none') as cancel_code, count(*)::text as n from orders where status = 'cancelled' group by 1 order by 1",
      )
      .finally(() => db.end());
    const cancelled = Object.fromEntries(rows.map((r) => [r.cancel_code, Number(r.n)]));
    const ordersStored = check.counts.orders ?? 0;
    if (ordersStored !== placedIds.length) {
      failures.push(`the Orders store ${ordersStored} orders for ${placedIds.length} answered PlaceOrders`);
    }
    if (new Set(placedIds).size !== placedIds.length) failures.push("two checkouts were answered with one order id");
    const latency = outcomes
      .filter((c) => c.status === "ORDER_STATUS_CONFIRMED")
      .map((c) => c.latencyMs ?? 0)
      .sort((a, b) => a - b);
    return {
      ok: failures.length === 0,
      failures,
      started: outcomes.length,
      placed: placedIds.length,
      placeRetries: outcomes.reduce((n, c) => n + Math.max(0, (c.attempts ?? 1) - 1), 0),
      ordersStored,
      confirmed: check.counts["orders confirmed"] ?? 0,
      cancelled,
      captures: check.counts["payments captured"] ?? 0,
      receipts: check.counts.receipts ?? 0,
      givenUp: givenUp.length,
      declineCards: outcomes.filter((c) => c.declineCard).length,
      faults: reports,
      check,
      confirmP50Ms: Math.round(percentile(latency, 50)),
      confirmP99Ms: Math.round(percentile(latency, 99)),
      wallS: Number(((Date.now() - began) / 1000).toFixed(1)),
      loadavg1m: Number((loadavg()[0] ?? 0).toFixed(1)),
      concurrency,
      processes,
      perFault,
    };
  } finally {
    for (const c of clients) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGKILL");
    for (const step of cleanup) await step().catch((error) => say(`cleanup: ${(error as Error).message}`));
  }
}

const seconds = (ms: number | null) => (ms === null ? "never" : `${(ms / 1000).toFixed(1)} s`);

/** The report as Markdown tables. */
export function formatReport(r: CheckoutFaultsReport): string {
  const cancelled = Object.entries(r.cancelled).map(
    ([code, n]) => `${code.replace(/^CANCEL_CODE_/, "").toLowerCase()} ${n}`,
  );
  return [
    "| orders placed | confirmed | cancelled (by reason) | captures | receipts | faults applied | PlaceOrder retries | store check |",
    "| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    `| ${r.placed} | ${r.confirmed} | ${cancelled.length === 0 ? "0" : cancelled.join(", ")} | ${r.captures} | ${r.receipts} | ${r.faults.length} | ${r.placeRetries} | ${r.check.ok ? "ok" : "FAIL"} |`,
    "",
    "| fault | action | in flight | back after | new checkouts through after | caught checkouts settled after |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
    ...r.faults.map(
      (f) =>
        `| ${f.fault} | ${f.action} | ${f.inFlight} | ${seconds(f.downMs)} | ${seconds(f.recoveryMs)} | ${seconds(f.settledMs)} |`,
    ),
    "",
    ...r.check.checks.map((c) => `${c.ok ? "ok  " : "FAIL"}  ${c.name}: ${c.detail}`),
    `${r.started} checkouts begun (${r.declineCards} with the declined card), ${r.givenUp} given up, ${r.ordersStored} orders stored; ` +
      `place→final p50 ${r.confirmP50Ms} ms, p99 ${r.confirmP99Ms} ms (confirmed); ` +
      `${r.concurrency} in flight from ${r.processes} processes; wall ${r.wallS} s, load average ${r.loadavg1m}`,
    ...(r.failures.length === 0 ? ["all invariants hold"] : r.failures.map((f) => `FAILED: ${f}`)),
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "per-fault": { type: "string", default: "5" },
      concurrency: { type: "string", default: "4" },
      processes: { type: "string", default: "2" },
      "max-orders": { type: "string", default: "600" },
      "bound-s": { type: "string", default: "900" },
      "decline-every": { type: "string", default: "10" },
      faults: { type: "string", default: FAULTS.join(",") },
      logs: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const numbers = ["per-fault", "concurrency", "processes", "max-orders", "bound-s"] as const;
  for (const name of numbers) {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 1) {
      process.stderr.write(`checkout-faults: --${name} takes a positive whole number, not ${values[name]}\n`);
      process.exit(2);
    }
  }
  const declineEvery = Number(values["decline-every"]);
  if (!Number.isInteger(declineEvery) || declineEvery < 0) {
    process.stderr.write(
      `checkout-faults: --decline-every takes a whole number (0 for none), not ${values["decline-every"]}\n`,
    );
    process.exit(2);
  }
  const faults = values.faults
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  const unknown = faults.filter((f) => !(FAULTS as readonly string[]).includes(f));
  if (unknown.length > 0) {
    process.stderr.write(`checkout-faults: unknown fault ${unknown.join(", ")}; the faults are ${FAULTS.join(", ")}\n`);
    process.exit(2);
  }
  const abort = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      process.stderr.write(`checkout-faults: ${signal}: stopping everything this run started\n`);
      abort.abort(new Error(`stopped by ${signal}`));
    });
  }
  let report: CheckoutFaultsReport;
  try {
    report = await runCheckoutFaults({
      signal: abort.signal,
      logsDir: values.logs,
      perFault: Number(values["per-fault"]),
      concurrency: Number(values.concurrency),
      processes: Number(values.processes),
      maxOrders: Number(values["max-orders"]),
      boundMs: Number(values["bound-s"]) * 1000,
      declineEvery,
      faults: faults as FaultName[],
      log: (line) => process.stderr.write(`checkout-faults: ${line}\n`),
    });
  } catch (error) {
    process.stderr.write(`checkout-faults: ${(error as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(
    values.json ? `${JSON.stringify({ date: new Date().toISOString(), ...report })}\n` : formatReport(report),
  );
  process.exit(report.ok ? 0 : 1);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
