#!/usr/bin/env node
// The first step of `npm test`: makes sure every system tool a test needs is here, so that no test
// fails, passes or skips because of the machine. Missing Debian packages are installed (as root,
// one log line saying which); where that is impossible it stops at once, with one line naming what
// is missing and the command that installs it. It then checks the servers the data and
// messaging tests use (see docs/data.md and docs/events.md): RabbitMQ must answer; PostgreSQL
// may be missing, as the test runner then starts an embedded one (scripts/run-tests.mjs), unless
// TEST_DATABASE_URL names a server that does not answer.
//
//   TEST_DATABASE_URL  PostgreSQL for tests, default postgres://postgres@127.0.0.1:5432/postgres
//   TEST_AMQP_URL      RabbitMQ for tests, default amqp://guest:guest@127.0.0.1:5672
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import process from "node:process";

/** Debian packages, each with what in it the tests use, and how to tell it is present. */
const PACKAGES = [
  { name: "python3-grpcio", why: "Python gRPC interop clients", present: () => pythonHas("grpc") },
  { name: "python3-grpc-tools", why: "Python stub generation", present: () => pythonHas("grpc_tools") },
  { name: "python3-flask", why: "the tutorial's Flask marketplace", present: () => pythonHas("flask") },
  { name: "chromium", why: "browser tests", present: () => existsSync("/usr/bin/chromium") },
  { name: "nghttp2-client", why: "h2load", present: () => onPath("h2load") },
  { name: "iproute2", why: "network namespaces for multi-host tests", present: () => onPath("ip") },
  { name: "openssl", why: "development certificates", present: () => onPath("openssl") },
];

function onPath(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

/** The Debian Python (/usr/bin/python3), not a pyenv one on PATH: that is the one with the Debian packages. */
function pythonHas(module) {
  return spawnSync("/usr/bin/python3", ["-c", `import ${module}`], { stdio: "ignore" }).status === 0;
}

function stop(message) {
  process.stderr.write(`test prerequisites: ${message}\n`);
  process.exit(1);
}

const missing = PACKAGES.filter((p) => !p.present());
if (missing.length > 0) {
  const names = missing.map((p) => p.name).join(" ");
  const command = `apt-get install -y --no-install-recommends ${names}`;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !existsSync("/usr/bin/apt-get")) {
    stop(`missing ${missing.map((p) => `${p.name} (${p.why})`).join(", ")}; install with: sudo ${command}`);
  }
  process.stdout.write(`test prerequisites: installing ${names} with apt-get\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [
    ["update", "-qq"],
    ["install", "-y", "-qq", "--no-install-recommends", ...missing.map((p) => p.name)],
  ]) {
    const result = spawnSync("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env });
    if (result.status !== 0) stop(`apt-get ${args[0]} failed (exit ${result.status}); run: sudo ${command}`);
  }
  const still = missing.filter((p) => !p.present());
  if (still.length > 0) stop(`still missing after apt-get: ${still.map((p) => p.name).join(" ")}`);
}

if (process.getuid?.() !== 0) {
  stop("the multi-host tests create network namespaces (ip netns), which needs root; run npm test as root");
}
if (!onPath("kubectl")) {
  stop("missing kubectl (renders deploy/kubernetes offline); install it from https://kubernetes.io/docs/tasks/tools/");
}

/** Resolves when host:port accepts a TCP connection within 2 s. */
function reachable(url, defaultPort) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ""), port: Number(port || defaultPort) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

const databaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const amqpUrl = process.env.TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const [database, broker] = await Promise.all([reachable(databaseUrl, 5432), reachable(amqpUrl, 5672)]);
const redact = (url) => url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
if (!database && process.env.TEST_DATABASE_URL !== undefined) {
  stop(`no PostgreSQL answers at TEST_DATABASE_URL (${redact(databaseUrl)}); start it, or unset TEST_DATABASE_URL`);
}
if (!database) {
  process.stdout.write(
    `test prerequisites: no PostgreSQL at ${redact(databaseUrl)}; the tests will run on an embedded PostgreSQL 18 instead\n`,
  );
}
if (!broker) {
  stop(
    `no RabbitMQ at ${redact(amqpUrl)}; start one (sudo apt-get install -y rabbitmq-server, or docker run -p 5672:5672 rabbitmq:4-management) or set TEST_AMQP_URL`,
  );
}
