// The store's checkout as separate OS processes, for the no-overselling proof
// (test/checkout-oversell.test.ts) and the checkout measurement (measure-checkout.mjs): the
// real Catalog, Inventory, Payments, Orders and Notifications (the receipts), each started from
// its sources as its own process on a fresh database of its own, talking over gRPC and over one event bus: RabbitMQ
// (a namespace of this run's own, deleted at the end) or pg-boss (a database of its own).
// The fault proof (checkout-faults.mjs) points it at a RabbitMQ and a PostgreSQL of its own, and
// SIGKILLs and restarts one service at a time with restart(name).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { createTestIdentity, type TestIdentity } from "@obfy/kit/dev";
import { Connection } from "rabbitmq-client";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** The services the checkout runs on, in start order (a service after those it calls). */
export const CHECKOUT_SERVICES = ["catalog", "inventory", "payments", "orders", "notifications"] as const;
export type CheckoutService = (typeof CHECKOUT_SERVICES)[number];

/** A service process and its output. */
export interface ServiceProcess {
  readonly name: CheckoutService;
  readonly child: ChildProcess;
  /** Every output line so far. */
  readonly lines: string[];
  readonly address: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A running checkout system. */
export interface CheckoutSystem {
  readonly transport: "amqp" | "postgres";
  readonly identity: TestIdentity;
  /** The current process of each service (a restart replaces it). */
  readonly processes: Readonly<Record<CheckoutService, ServiceProcess>>;
  /** Each service's gRPC address (a restarted service keeps its port). */
  readonly addresses: Readonly<Record<CheckoutService, string>>;
  /** Each service's DATABASE_URL. */
  readonly databaseUrls: Readonly<Record<CheckoutService, string>>;
  /**
   * Ends one service's process with `signal` (default SIGKILL), waits for its exit, and starts it
   * again with the same environment, database and port; resolves once it logged its start.
   */
  restart(name: CheckoutService, signal?: NodeJS.Signals): Promise<RestartReport>;
  /** SIGTERMs every process (last started first), waits for their exits, drops the databases and the namespace. */
  stop(): Promise<{ name: string; code: number | null; signal: NodeJS.Signals | null }[]>;
}

/** What {@link CheckoutSystem.restart} saw. */
export interface RestartReport {
  /** How the old process ended. */
  readonly exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null };
  /** Signal sent → the old process gone, in ms. */
  readonly exitMs: number;
  /** Signal sent → the new process started, in ms. */
  readonly downMs: number;
}

/** Options for {@link startCheckoutSystem}. */
export interface CheckoutSystemOptions {
  /** Default amqp (RabbitMQ at AMQP_URL, default 127.0.0.1:5672). */
  readonly transport?: "amqp" | "postgres";
  /** Added to every service's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Added to one service's environment. */
  readonly serviceEnv?: Partial<Record<CheckoutService, Readonly<Record<string, string>>>>;
  /** How long each service may take to start (default 120 s: the sources compile on start). */
  readonly startupMs?: number;
  /** The RabbitMQ of an amqp system (default AMQP_URL, else guest@127.0.0.1:5672). */
  readonly amqpUrl?: string;
  /**
   * A URL of the PostgreSQL server the databases are created on, whose user may create databases
   * (default TEST_DATABASE_URL, else the machine's server: see `@obfy/kit/db/testing`).
   */
  readonly databaseServerUrl?: string;
}

/** Settings of the runner's environment that would change what the services do. */
const INHERITED =
  /^(TLS_|AUTH_|AUTHZ_|OTEL_|METRICS_|HEALTH_PORT$|PORT$|HOST$|LOG_|GRPC_|NODE_ENV$|DATABASE_|EVENT_BUS|AMQP_|PAYMENTS_|CHECKOUT_|RESERVATION_|CATALOG_)/;

function spawnService(name: CheckoutService, env: Record<string, string>, startupMs: number): Promise<ServiceProcess> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED.test(key)));
  const child = spawn(
    process.execPath,
    ["--enable-source-maps", "--conditions=source", "--import", "tsx", "src/main.ts"],
    { cwd: join(repoRoot, "services", name), env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} did not start in ${startupMs} ms:\n${lines.slice(-20).join("\n")}`));
    }, startupMs);
    const onLine = (line: string) => {
      if (lines.length < 20_000) lines.push(line);
      if (!line.includes(`${name} started`)) return;
      try {
        const record = JSON.parse(line.slice(line.indexOf("{"))) as { msg?: string; address?: string };
        if (record.msg?.startsWith(`${name} started`) && typeof record.address === "string") {
          clearTimeout(timer);
          resolve({ name, child, lines, address: record.address, exited });
        }
      } catch {
        // Not the JSON start line.
      }
    };
    if (child.stdout) createInterface({ input: child.stdout }).on("line", onLine);
    if (child.stderr) createInterface({ input: child.stderr }).on("line", onLine);
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited while starting (${JSON.stringify(exit)}):\n${lines.slice(-20).join("\n")}`));
    });
  });
}

/** Deletes a RabbitMQ namespace's queues (with their retry and dead-letter queues) and its exchange. */
async function deleteAmqpNamespace(url: string, namespace: string): Promise<void> {
  const rabbit = new Connection({ url, retryHigh: 1000 });
  rabbit.on("error", () => {});
  try {
    await rabbit.onConnect(5000);
    const queues = [...CHECKOUT_SERVICES, "bookstore.notifications.tasks.v1.SendMail"].map((s) => `${namespace}${s}`);
    for (const queue of queues) {
      for (const name of [
        queue,
        `${queue}.dead-letters`,
        ...Array.from({ length: 9 }, (_, i) => `${queue}.retry.${i + 1}`),
      ]) {
        await rabbit.queueDelete({ queue: name });
      }
    }
    await rabbit.exchangeDelete({ exchange: `${namespace}events` });
  } finally {
    await rabbit.close();
  }
}

/** Starts the four services; on a failure, stops what started and throws. */
export async function startCheckoutSystem(options: CheckoutSystemOptions = {}): Promise<CheckoutSystem> {
  const transport = options.transport ?? "amqp";
  const startupMs = options.startupMs ?? 120_000;
  const databases: TestDatabase[] = [];
  const own = {} as Record<CheckoutService, TestDatabase>;
  const serverUrl = options.databaseServerUrl;
  for (const name of CHECKOUT_SERVICES) {
    own[name] = await createTestDatabase({ serverUrl });
    databases.push(own[name]);
  }
  const bus = transport === "postgres" ? await createTestDatabase({ serverUrl }) : undefined;
  if (bus !== undefined) databases.push(bus);
  const amqpUrl = options.amqpUrl ?? process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
  const namespace = `checkout${randomBytes(4).toString("hex")}.`;
  const identity = await createTestIdentity();
  const common: Record<string, string> = {
    ...identity.env,
    EVENT_BUS: transport,
    ...(bus === undefined
      ? { AMQP_URL: amqpUrl, EVENT_BUS_NAMESPACE: namespace }
      : { EVENT_BUS_DATABASE_URL: bus.url }),
    EVENT_BUS_RETRY_DELAY_MS: "200",
    HOST: "127.0.0.1",
    PORT: "0",
    METRICS_PORT: "0",
    LOG_FORMAT: "json",
    SHUTDOWN_GRACE_SECONDS: "10",
    DATABASE_CONNECT_TIMEOUT_MS: "15000",
    // The test server is shared (max_connections 100): small pools, one more for the Orders'
    // two LISTEN connections (outbox relay, WatchOrder).
    DATABASE_POOL_MAX: "4",
    ...options.env,
  };
  const processes = {} as Record<CheckoutService, ServiceProcess>;
  const started: CheckoutService[] = [];
  const envs = {} as Record<CheckoutService, Record<string, string>>;
  let stopping = false;

  const stop = async () => {
    stopping = true;
    const exits = [];
    for (const p of [...started].reverse().map((name) => processes[name])) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
      const exit = await Promise.race([
        p.exited,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000).unref()),
      ]);
      if (exit === undefined) {
        p.child.kill("SIGKILL");
        exits.push({ name: p.name, ...(await p.exited) });
      } else {
        exits.push({ name: p.name, ...exit });
      }
    }
    await Promise.all(databases.map((d) => d.drop()));
    if (transport === "amqp") await deleteAmqpNamespace(amqpUrl, namespace).catch(() => {});
    return exits;
  };

  try {
    for (const name of CHECKOUT_SERVICES) {
      const env = {
        ...common,
        DATABASE_URL: own[name].url,
        ...(name === "inventory" || name === "orders" ? { CATALOG_ADDRESS: processes.catalog.address } : {}),
        ...(name === "orders" ? { DATABASE_POOL_MAX: "6" } : {}),
        ...options.serviceEnv?.[name],
      };
      envs[name] = env;
      const service = await spawnService(name, env, startupMs);
      processes[name] = service;
      started.push(name);
    }
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  const addresses = Object.fromEntries(CHECKOUT_SERVICES.map((n) => [n, processes[n].address])) as Record<
    CheckoutService,
    string
  >;
  const databaseUrls = Object.fromEntries(CHECKOUT_SERVICES.map((n) => [n, own[n].url])) as Record<
    CheckoutService,
    string
  >;
  const restart = async (name: CheckoutService, signal: NodeJS.Signals = "SIGKILL"): Promise<RestartReport> => {
    if (stopping) throw new Error("the checkout system is stopping");
    const old = processes[name];
    const sent = performance.now();
    if (old.child.exitCode === null && old.child.signalCode === null) old.child.kill(signal);
    const exit = await old.exited;
    const exitMs = performance.now() - sent;
    // The same port: the other services and the clients keep their channels to it.
    const port = old.address.slice(old.address.lastIndexOf(":") + 1);
    processes[name] = await spawnService(name, { ...envs[name], PORT: port }, startupMs);
    return { exit, exitMs, downMs: performance.now() - sent };
  };
  return { transport, identity, processes, addresses, databaseUrls, restart, stop };
}
