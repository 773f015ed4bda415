#!/usr/bin/env node
// `npm start`: runs every service of scripts/services.mjs from its built dist/ (the bundles
// production runs, dist/main.bundle.js: see scripts/bundle.mjs), each output line prefixed with
// the service name (concurrently does the spawning and prefixing), on one PostgreSQL:
//
// - DATABASE_URL unset (the default): an embedded PostgreSQL 18 (scripts/embedded-postgres.mjs)
//   on 127.0.0.1:EMBEDDED_POSTGRES_PORT with its data in DATA_DIR/postgres, initialised on the
//   first start and reused after;
// - DATABASE_URL set: the server it names, as a role that may create roles and databases.
//
// On it each service with a database gets one of its own, owned by a role of its own with a
// password of its own (created on first start, the password renewed at every start), which no
// other role may connect to; the event bus gets database `bus`. Each service is given its
// DATABASE_URL, EVENT_BUS=postgres and EVENT_BUS_DATABASE_URL, and the address of every gRPC
// service (see scripts/services.mjs).
//
// Environment (besides what each service reads itself):
//   <NAME>_PORT, <NAME>_METRICS_PORT  a service's ports, e.g. MARKETPLACE_PORT (defaults: services.mjs)
//   METRICS_PORT            every service's metrics port at once (e.g. 0 for any free one, or off)
//   DATA_DIR                local data, default .data/ at the repository root (`npm run reset` wipes it)
//   EMBEDDED_POSTGRES_PORT  the embedded server's port, default 15432 (not 5432, often taken)
//   DATABASE_URL            use this PostgreSQL server instead of the embedded one
//   EVENT_BUS               passed on, default postgres
//   LOG_FORMAT              defaults to "pretty" when stdout is a terminal
//
// The first SIGINT/SIGTERM is forwarded once to every service, which drain and exit; later
// signals are ignored (the services finish what they are doing). Once they have all exited,
// PostgreSQL is stopped (a fast shutdown, clean: it checkpoints). Exits 0 when every service
// exited 0, 1 otherwise. If one service fails, the others are stopped too.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { serviceNodeFlags } from "./service-node-flags.mjs";
import { BUS_DATABASE, SERVICES, variablePrefix } from "./services.mjs";

const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));

function fail(message) {
  process.stderr.write(`start: ${message}\n`);
  process.exit(1);
}

function port(name, fallback, { allowOff = false } = {}) {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  if (allowOff && raw.toLowerCase() === "off") return "off";
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  const min = allowOff ? 0 : 1;
  if (!Number.isInteger(value) || value < min || value > 65535) {
    fail(
      `${name} must be an integer between ${min} and 65535${allowOff ? ' or "off"' : ""}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

// Ports, each from its variable or the registry; two services on one port is a mistake to name.
const services = SERVICES.map((service) => {
  const prefix = variablePrefix(service.name);
  const sharedMetrics = process.env.METRICS_PORT?.trim();
  return {
    ...service,
    prefix,
    port: port(`${prefix}_PORT`, service.port),
    metricsPort:
      sharedMetrics === undefined || sharedMetrics === ""
        ? port(`${prefix}_METRICS_PORT`, service.metricsPort, { allowOff: true })
        : port("METRICS_PORT", 0, { allowOff: true }),
  };
});
const taken = new Map();
for (const service of services) {
  for (const [variable, value] of [
    [`${service.prefix}_PORT`, service.port],
    [`${service.prefix}_METRICS_PORT`, service.metricsPort],
  ]) {
    if (value === 0 || value === "off") continue;
    const other = taken.get(value);
    if (other !== undefined) fail(`${other} and ${variable} are both ${value}; give them different ports`);
    taken.set(value, variable);
  }
}

for (const service of services) {
  service.main = join(repoRoot, "services", service.name, "dist", "main.bundle.js");
  if (!existsSync(service.main)) {
    fail(
      `${relative(process.cwd(), service.main) || service.main} is missing: the services are not built.\n` +
        "       Run `npm run build` (npm install runs it too), then `npm start` again.",
    );
  }
}

const externalServer = process.env.DATABASE_URL?.trim() || undefined;
const dataDir = resolve(process.env.DATA_DIR?.trim() || join(repoRoot, ".data"));
const postgresPort = externalServer === undefined ? port("EMBEDDED_POSTGRES_PORT", 15432) : undefined;

// Children write to a pipe, so they would pick JSON logs; a person at a terminal wants pretty ones.
const sharedEnv = process.env.LOG_FORMAT === undefined && process.stdout.isTTY ? { LOG_FORMAT: "pretty" } : {};

/** Quotes one word for /bin/sh. */
const sh = (word) => `'${word.replaceAll("'", `'\\''`)}'`;

// Imported only now, so that the checks above give their message even before `npm install`.
const { createConcurrently, LogError, Logger, LogOutput } = await import("concurrently");
const { databaseUrl, ensureDatabases, redact, startEmbeddedPostgres } = await import("./embedded-postgres.mjs");
const { randomBytes } = await import("node:crypto");
const { createServer } = await import("node:net");

/** A port nothing listens on right now, on the loopback interface. */
function freeLoopbackPort() {
  return new Promise((done, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port: free } = server.address();
      server.close(() => done(free));
    });
    server.on("error", reject);
  });
}

const logger = new Logger({ prefixFormat: "name", commandLength: 20 });
// Written directly, not through concurrently's logger: that one prints nothing before the
// services start, and PostgreSQL starts first.
const say = (message) => process.stdout.write(`--> ${message}\n`);
const shown = (path) => {
  const inside = relative(process.cwd(), path);
  return inside === "" || inside.startsWith("..") ? path : inside;
};

let stopping = false;
let stopSignal;
// A service that exits 0 stopped cleanly. So did one ended by SIGINT or SIGTERM once the store is
// stopping: a signal that arrives before a service has installed its handlers (while it is still
// starting) ends it at once, with nothing in flight to lose. A Ctrl-C in a terminal sends SIGINT
// to every process of the group, the services too, so the signal may be either.
const clean = (event) =>
  event.exitCode === 0 || (stopSignal !== undefined && (event.exitCode === "SIGINT" || event.exitCode === "SIGTERM"));
let commands = [];
/** @type {Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined} */
let postgres;

async function stopPostgres() {
  if (postgres === undefined) return;
  say("stopping PostgreSQL");
  await postgres.stop();
  say("PostgreSQL stopped");
}

function onSignal(signal) {
  if (stopping) {
    say(`${signal} received again; still waiting for the services to finish`);
    return;
  }
  stopping = true;
  stopSignal = signal;
  if (commands.length === 0) {
    // Still starting PostgreSQL: nothing else runs yet.
    say(`${signal} received; stopping`);
    void stopPostgres().then(() => process.exit(0));
    return;
  }
  say(`${signal} received; stopping the services`);
  for (const command of commands) command.kill(signal);
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

/** The embedded server's superuser password: made on the first start (initdb sets it), read after. */
function superuserPassword() {
  const file = join(dataDir, "postgres-password");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  if (existsSync(join(dataDir, "postgres", "PG_VERSION"))) {
    fail(
      `${shown(file)} is missing, so ${shown(join(dataDir, "postgres"))} cannot be used; \`npm run reset\` starts afresh (it deletes the local data)`,
    );
  }
  mkdirSync(dataDir, { recursive: true });
  const password = randomBytes(18).toString("base64url");
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

let adminUrl = externalServer;
if (externalServer === undefined) {
  const pgData = join(dataDir, "postgres");
  const fresh = !existsSync(join(pgData, "PG_VERSION"));
  say(
    `starting PostgreSQL 18 (embedded) on 127.0.0.1:${postgresPort}, data in ${shown(pgData)}${fresh ? " (first start: initdb)" : ""}`,
  );
  try {
    postgres = await startEmbeddedPostgres({
      dataDir: pgData,
      port: postgresPort,
      password: superuserPassword(),
      // Routine LOG lines stay quiet; warnings and errors (and their details) are shown.
      onLog: (line) => {
        if (!/\] LOG: /.test(line)) process.stdout.write(`[postgres] ${line}\n`);
      },
    });
  } catch (error) {
    const hint = /already taken/.test(error.message) ? "; set EMBEDDED_POSTGRES_PORT to another port" : "";
    fail(`cannot start the embedded PostgreSQL: ${error.message}${hint}`);
  }
  adminUrl = postgres.url;
  say(`PostgreSQL ready on 127.0.0.1:${postgresPort} (pid ${postgres.pid}, ${postgres.startMs} ms)`);
  void postgres.exited.then((code) => {
    if (stopping) return;
    say(`PostgreSQL exited unexpectedly (code ${code}); stopping the services`);
    postgres = undefined;
    onSignal("SIGTERM");
    stopSignal = undefined;
  });
} else {
  say(`using the PostgreSQL server of DATABASE_URL (${redact(externalServer)})`);
}
if (stopping) await new Promise(() => {});

// A role and a database per service, and the bus's; fresh passwords at every start.
const credentials = new Map(
  [...services.filter((s) => s.database).map((s) => s.name), BUS_DATABASE].map((name) => [
    name,
    randomBytes(18).toString("base64url"),
  ]),
);
try {
  const created = await ensureDatabases(
    adminUrl,
    [...credentials].map(([name, password]) => ({ name, password })),
  );
  if (created.length > 0) say(`created the databases ${created.join(", ")}`);
} catch (error) {
  const wrongPassword = /password authentication failed/.test(error.message) && externalServer === undefined;
  await stopPostgres();
  fail(
    wrongPassword
      ? `the embedded PostgreSQL does not accept ${shown(join(dataDir, "postgres-password"))}; \`npm run reset\` starts afresh (it deletes the local data)`
      : `cannot create the services' databases on ${redact(adminUrl)}: ${error.message}`,
  );
}
if (stopping) await new Promise(() => {});

// The token issuer's admin port serves the keys every other service verifies tokens with, so it
// needs a known port: METRICS_PORT=0 (any free one, as the tests use) gets a free one picked here.
const issuer = services.find((s) => s.issuesTokens);
if (issuer !== undefined && issuer.metricsPort === "off") {
  await stopPostgres();
  fail(`${issuer.prefix}_METRICS_PORT (or METRICS_PORT) is off, but the other services read its token keys there`);
}
if (issuer !== undefined && issuer.metricsPort === 0) issuer.metricsPort = await freeLoopbackPort();
const tokenEnv =
  issuer === undefined
    ? {}
    : {
        AUTH_JWKS_URL: `http://127.0.0.1:${issuer.metricsPort}/.well-known/jwks.json`,
        AUTH_ISSUER: process.env.AUTH_ISSUER ?? "obfy-accounts",
        AUTH_AUDIENCE: process.env.AUTH_AUDIENCE ?? "obfy",
      };
// Where each service's metrics are, for the Marketplace's dashboard (<NAME>_METRICS_URL).
const metricsUrls = Object.fromEntries(
  services
    .filter((s) => typeof s.metricsPort === "number" && s.metricsPort !== 0)
    .map((s) => [`${s.prefix}_METRICS_URL`, `http://127.0.0.1:${s.metricsPort}/metrics`]),
);

const urlOf = (name) => databaseUrl(adminUrl, name, credentials.get(name));
const addresses = Object.fromEntries(
  services
    .filter((s) => s.protocol === "grpc")
    .flatMap((s) => [
      [`${s.prefix}_ADDRESS`, `127.0.0.1:${s.port}`],
      [`${s.prefix}_PORT`, String(s.port)],
    ]),
);
for (const service of services) {
  service.env = {
    ...addresses,
    ...metricsUrls,
    ...tokenEnv,
    PORT: String(service.port),
    METRICS_PORT: String(service.metricsPort),
    EVENT_BUS: process.env.EVENT_BUS ?? "postgres",
    EVENT_BUS_DATABASE_URL: urlOf(BUS_DATABASE),
    ...(service.database ? { DATABASE_URL: urlOf(service.name) } : {}),
  };
}

const started = createConcurrently(
  services.map((service) => ({
    name: service.name,
    // `exec` so the shell is replaced by node: signals reach the service itself, and the PID
    // concurrently reports is the service's.
    command: `exec ${[process.execPath, ...serviceNodeFlags(service.name), service.main].map(sh).join(" ")}`,
    env: { ...sharedEnv, ...service.env },
    cwd: repoRoot,
  })),
  {
    logger,
    outputStream: process.stdout,
    prefixColors: ["cyan", "magenta", "green", "yellow", "blue", "red"],
    // The command is the service itself (see `exec` above): signal it directly, no process-tree walk.
    // One that has exited already (ESRCH) has nothing left to stop.
    kill: (pid, signal) => {
      try {
        process.kill(pid, signal);
      } catch (error) {
        if (error.code !== "ESRCH") throw error;
      }
    },
    // Not concurrently's KillOthers: it would also fire when a service ends by the very signal
    // a Ctrl-C sent it, and SIGTERM the others mid-drain. The close handler below stops the rest
    // only when a service fails on its own.
    controllers: [new LogError({ logger }), new LogOutput({ logger })],
  },
);
commands = started.commands;

// createConcurrently has started the commands by now. The PIDs are printed so a person (or a
// test) can stop one service on its own.
for (const command of commands) {
  if (command.pid !== undefined) say(`${command.name} started (pid ${command.pid})`);
  command.close.subscribe((event) => {
    logger.logCommandEvent(`exited with code ${event.exitCode}`, command);
    if (!stopping && !clean(event)) {
      say(`${command.name} exited (code ${event.exitCode}) while the store was running; stopping the others`);
      onSignal("SIGTERM");
    }
  });
}

// Tell the user where to go once the web front answers its readiness probe.
const front = services.find((s) => s.open !== undefined);
if (front !== undefined) {
  const readyz = `http://127.0.0.1:${front.port}/readyz`;
  void (async () => {
    const deadline = Date.now() + 60_000;
    while (!stopping && Date.now() < deadline) {
      try {
        const response = await fetch(readyz, { signal: AbortSignal.timeout(1000) });
        if (response.ok) {
          say(`Online Books For You is ready: open http://localhost:${front.port}${front.open}`);
          return;
        }
      } catch {
        // Not listening yet.
      }
      await new Promise((done) => setTimeout(done, 200));
    }
  })();
}

const finish = async (events) => {
  const failed = Array.isArray(events) ? events.filter((event) => !clean(event)) : [];
  for (const event of failed) say(`${event.command.name} failed (exit ${event.exitCode})`);
  const lostPostgres = externalServer === undefined && postgres === undefined;
  await stopPostgres();
  process.exit(failed.length === 0 && !lostPostgres ? 0 : 1);
};
started.result.then(finish, finish);
