#!/usr/bin/env node
// `npm start`: runs Recommendations and Marketplace side by side from their built dist/ (the
// bundles production runs, dist/main.bundle.js: see scripts/bundle.mjs), each
// output line prefixed with the service name (concurrently does the spawning and prefixing).
//
// Environment (besides what each service reads itself):
//   RECOMMENDATIONS_PORT  gRPC port of Recommendations, default 50051 (given to it as PORT)
//   MARKETPLACE_PORT      HTTP port of Marketplace, default 5000 (given to it as PORT)
//   LOG_FORMAT            defaults to "pretty" when stdout is a terminal
//
// The first SIGINT/SIGTERM is forwarded once to both services, which drain and exit; later
// signals are ignored (the services finish what they are doing). Exits 0 when both exited 0,
// 1 otherwise. If one service fails, the other is stopped too.
import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { serviceNodeFlags } from "./service-node-flags.mjs";

const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));

function fail(message) {
  process.stderr.write(`start: ${message}\n`);
  process.exit(1);
}

function port(name, fallback) {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    fail(`${name} must be an integer between 1 and 65535, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const recommendationsPort = port("RECOMMENDATIONS_PORT", 50051);
const marketplacePort = port("MARKETPLACE_PORT", 5000);
if (recommendationsPort === marketplacePort) {
  fail(`RECOMMENDATIONS_PORT and MARKETPLACE_PORT are both ${marketplacePort}; give them different ports`);
}

const services = [
  { name: "recommendations", env: { PORT: String(recommendationsPort) } },
  { name: "marketplace", env: { PORT: String(marketplacePort), RECOMMENDATIONS_PORT: String(recommendationsPort) } },
];
for (const service of services) {
  service.main = join(repoRoot, "services", service.name, "dist", "main.bundle.js");
  if (!existsSync(service.main)) {
    fail(
      `${relative(process.cwd(), service.main) || service.main} is missing: the services are not built.\n` +
        "       Run `npm run build` (npm install runs it too), then `npm start` again.",
    );
  }
}

// Children write to a pipe, so they would pick JSON logs; a person at a terminal wants pretty ones.
const sharedEnv = process.env.LOG_FORMAT === undefined && process.stdout.isTTY ? { LOG_FORMAT: "pretty" } : {};

/** Quotes one word for /bin/sh. */
const sh = (word) => `'${word.replaceAll("'", `'\\''`)}'`;

// Imported only now, so that the checks above give their message even before `npm install`.
const { createConcurrently, KillOthers, LogError, Logger, LogOutput } = await import("concurrently");

const logger = new Logger({ prefixFormat: "name", commandLength: 20 });
const abortController = new AbortController();
const { commands, result } = createConcurrently(
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
    prefixColors: ["cyan", "magenta"],
    abortSignal: abortController.signal,
    // The command is the service itself (see `exec` above): signal it directly, no process-tree walk.
    kill: (pid, signal) => process.kill(pid, signal),
    controllers: [
      new LogError({ logger }),
      new LogOutput({ logger }),
      new KillOthers({ logger, conditions: ["failure"], killSignal: "SIGTERM", abortController }),
    ],
  },
);

// createConcurrently has started the commands by now. The PIDs are printed so a person (or a
// test) can stop one service on its own.
for (const command of commands) {
  if (command.pid !== undefined) logger.logGlobalEvent(`${command.name} started (pid ${command.pid})`);
  command.close.subscribe(({ exitCode }) => logger.logCommandEvent(`exited with code ${exitCode}`, command));
}

let stopping = false;
let stopSignal;
function onSignal(signal) {
  if (stopping) {
    logger.logGlobalEvent(`${signal} received again; still waiting for the services to finish`);
    return;
  }
  stopping = true;
  stopSignal = signal;
  logger.logGlobalEvent(`${signal} received; stopping the services`);
  for (const command of commands) command.kill(signal);
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

// Tell the user where to go once the Marketplace answers its readiness probe.
const readyz = `http://127.0.0.1:${marketplacePort}/readyz`;
void (async () => {
  const deadline = Date.now() + 60_000;
  while (!stopping && Date.now() < deadline) {
    try {
      const response = await fetch(readyz, { signal: AbortSignal.timeout(1000) });
      if (response.ok) {
        logger.logGlobalEvent(`Online Books For You is ready: open http://localhost:${marketplacePort}/`);
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 200));
  }
})();

// A service that exits 0 stopped cleanly. So did one that was ended by the very signal we
// forwarded: that happens when the signal arrives before it has installed its handlers (while
// still starting), and it had nothing in flight to lose.
const clean = (event) => event.exitCode === 0 || (stopSignal !== undefined && event.exitCode === stopSignal);
const finish = (events) => {
  const failed = Array.isArray(events) ? events.filter((event) => !clean(event)) : [];
  for (const event of failed) logger.logGlobalEvent(`${event.command.name} failed (exit ${event.exitCode})`);
  process.exit(failed.length === 0 ? 0 : 1);
};
result.then(finish, finish);
