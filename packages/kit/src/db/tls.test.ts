// DATABASE_SSL_MODE against a real PostgreSQL serving TLS (a private embedded server with
// certificates from the kit's development CA): each libpq mode accepts and refuses exactly
// what it should, and a connection that succeeds is encrypted.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import { databaseUrl, type EmbeddedPostgres, startEmbeddedPostgres } from "../../../../scripts/embedded-postgres.mjs";
import { createCertificateAuthority, issueCertificate } from "../dev/dev-certificates.js";
import { readDatabaseConfig } from "./config.js";
import { createDatabase } from "./create-database.js";
import { captureLogs } from "./fixtures/bookshop.js";
import { freePort } from "./fixtures/private-postgres.js";

const root = mkdtempSync(join(tmpdir(), "kit-db-tls-"));
chmodSync(root, 0o755);
const file = (name: string) => join(root, name);
let server: EmbeddedPostgres;
let superuserUrl: string;

/** Run as root, PostgreSQL runs as the OS user postgres: its key must be that user's, mode 0600. */
function giveToPostgres(...paths: string[]): void {
  if (process.getuid?.() !== 0) return;
  const id = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  for (const path of paths) chownSync(path, id("-u"), id("-g"));
}

before(async () => {
  const ca = await createCertificateAuthority({ certFile: file("ca.pem"), keyFile: file("ca.key") });
  await createCertificateAuthority({ certFile: file("other-ca.pem"), keyFile: file("other-ca.key") });
  await issueCertificate({
    ca,
    certFile: file("server.pem"),
    keyFile: file("server.key"),
    commonName: "postgres",
    hosts: ["localhost", "127.0.0.1"],
    usage: "server",
  });
  await issueCertificate({
    ca,
    certFile: file("elsewhere.pem"),
    keyFile: file("elsewhere.key"),
    commonName: "db.example",
    hosts: ["db.example"],
    usage: "server",
  });
  giveToPostgres(file("server.pem"), file("server.key"), file("elsewhere.pem"), file("elsewhere.key"));
  const password = randomBytes(12).toString("hex");
  server = await startEmbeddedPostgres({ dataDir: file("postgres"), port: await freePort(), password });
  superuserUrl = databaseUrl(server.url, "postgres", password);
  await serveCertificate("server");
});

/** Makes the server use `<name>.pem` and `<name>.key` (and TLS), and waits until new sessions get them. */
async function serveCertificate(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: superuserUrl });
  await admin.connect();
  try {
    await admin.query("alter system set ssl = on");
    await admin.query(`alter system set ssl_cert_file = '${file(`${name}.pem`)}'`);
    await admin.query(`alter system set ssl_key_file = '${file(`${name}.key`)}'`);
    await admin.query("select pg_reload_conf()");
  } finally {
    await admin.end();
  }
  // The postmaster reloads on its own time: new sessions show when it has.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new pg.Client({ connectionString: superuserUrl });
    await client.connect();
    const { rows } = await client.query("show ssl_cert_file");
    await client.end();
    if (rows[0]?.ssl_cert_file === file(`${name}.pem`)) return;
    assert.ok(Date.now() < deadline, `the server did not load ${name}.pem within 10 s`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

after(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Connects with `env` and says whether the session is encrypted; rejects when it cannot connect. */
async function encrypted(env: Record<string, string>): Promise<boolean> {
  const database = createDatabase({
    config: readDatabaseConfig({ DATABASE_URL: superuserUrl, ...env }, { name: "tls" }),
    logger: captureLogs("silent").logger,
  });
  try {
    const result = await sql<{ ssl: boolean }>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`.execute(
      database.kysely,
    );
    return result.rows[0]?.ssl === true;
  } finally {
    await database.close();
  }
}

it("verify-full checks the chain and the host name; verify-ca the chain; require encrypts only; disable does not", async () => {
  const trusted = file("ca.pem");
  const untrusted = file("other-ca.pem");
  assert.equal(await encrypted({ DATABASE_SSL_MODE: "verify-full", DATABASE_SSL_CA_FILE: trusted }), true);
  assert.equal(await encrypted({ DATABASE_SSL_MODE: "verify-ca", DATABASE_SSL_CA_FILE: trusted }), true);
  await assert.rejects(
    encrypted({ DATABASE_SSL_MODE: "verify-full", DATABASE_SSL_CA_FILE: untrusted }),
    /self[- ]signed|unable to verify|unable to get local issuer/i,
  );
  await assert.rejects(
    encrypted({ DATABASE_SSL_MODE: "verify-ca", DATABASE_SSL_CA_FILE: untrusted }),
    /self[- ]signed|unable to verify|unable to get local issuer/i,
  );
  assert.equal(await encrypted({ DATABASE_SSL_MODE: "require", DATABASE_SSL_CA_FILE: untrusted }), true);
  assert.equal(await encrypted({ DATABASE_SSL_MODE: "disable" }), false);
  // The URL's own sslmode and sslrootcert, as cloud providers hand them out.
  const url = new URL(superuserUrl);
  url.searchParams.set("sslmode", "verify-full");
  url.searchParams.set("sslrootcert", trusted);
  assert.equal(await encrypted({ DATABASE_URL: url.href }), true);

  // A certificate for another host name: verify-ca still accepts it, verify-full does not.
  await serveCertificate("elsewhere");
  await assert.rejects(
    encrypted({ DATABASE_SSL_MODE: "verify-full", DATABASE_SSL_CA_FILE: trusted }),
    /Hostname\/IP does not match certificate's altnames|does not match/i,
  );
  assert.equal(await encrypted({ DATABASE_SSL_MODE: "verify-ca", DATABASE_SSL_CA_FILE: trusted }), true);
});
