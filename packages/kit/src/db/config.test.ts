import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readDatabaseConfig, redactDatabaseUrl } from "./config.js";

const URL = "postgres://catalog:s3cret@db.internal:5432/catalog";
const read = (env: Record<string, string>) => readDatabaseConfig(env, { name: "catalog" });

describe("readDatabaseConfig", () => {
  it("reads DATABASE_URL with the defaults", () => {
    const config = read({ DATABASE_URL: URL });
    assert.deepEqual(config, {
      name: "catalog",
      url: URL,
      poolMax: 10,
      connectTimeoutMs: 3000,
      statementTimeoutMs: 5000,
      slowQueryMs: 200,
      healthCheckIntervalMs: 5000,
      tls: undefined,
    });
  });

  it("reads every setting, and a service's own defaults", () => {
    const config = readDatabaseConfig(
      {
        DATABASE_URL: URL,
        DATABASE_POOL_MAX: "25",
        DATABASE_CONNECT_TIMEOUT_MS: "1500",
        DATABASE_STATEMENT_TIMEOUT_MS: "0",
        DATABASE_SLOW_QUERY_MS: "off",
        DATABASE_HEALTH_CHECK_INTERVAL_MS: "250",
      },
      { name: "catalog", defaults: { poolMax: 4 } },
    );
    assert.equal(config.poolMax, 25);
    assert.equal(config.connectTimeoutMs, 1500);
    assert.equal(config.statementTimeoutMs, 0);
    assert.equal(config.slowQueryMs, undefined);
    assert.equal(config.healthCheckIntervalMs, 250);
    assert.equal(readDatabaseConfig({ DATABASE_URL: URL }, { name: "c", defaults: { poolMax: 4 } }).poolMax, 4);
  });

  it("requires DATABASE_URL and says how to get one", () => {
    assert.throws(
      () => read({}),
      /^Error: DATABASE_URL must be set to the catalog database, e\.g\. postgres:\/\/catalog:/,
    );
    assert.throws(() => read({ DATABASE_URL: "  " }), /DATABASE_URL must be set/);
  });

  it("rejects what is not a postgres URL without showing its password", () => {
    assert.throws(
      () => read({ DATABASE_URL: "mysql://u:hunter2@h/db" }),
      (error: Error) => {
        assert.match(error.message, /DATABASE_URL must be a postgres:\/\/ URL, got mysql:\/\/u:\*\*\*@h\/db/);
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      },
    );
    assert.throws(
      () => read({ DATABASE_URL: "not a url hunter2" }),
      (error: Error) => {
        assert.match(error.message, /not shown/);
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      },
    );
  });

  it("names the variable and the bad value", () => {
    assert.throws(
      () => read({ DATABASE_URL: URL, DATABASE_POOL_MAX: "many" }),
      /^Error: DATABASE_POOL_MAX must be an integer between 1 and 1000, got "many"$/,
    );
    assert.throws(() => read({ DATABASE_URL: URL, DATABASE_POOL_MAX: "0" }), /DATABASE_POOL_MAX/);
    assert.throws(
      () => read({ DATABASE_URL: URL, DATABASE_STATEMENT_TIMEOUT_MS: "-1" }),
      /DATABASE_STATEMENT_TIMEOUT_MS must be an integer between 0 and/,
    );
    assert.throws(
      () => read({ DATABASE_URL: URL, DATABASE_SLOW_QUERY_MS: "soon" }),
      /^Error: DATABASE_SLOW_QUERY_MS must be an integer between 0 and 2147483647 or "off", got "soon"$/,
    );
    assert.throws(
      () => read({ DATABASE_URL: URL, DATABASE_SSL_MODE: "prefer" }),
      /^Error: DATABASE_SSL_MODE must be one of disable, require, verify-ca, verify-full, got "prefer" \(node-postgres cannot fall back to plaintext\)$/,
    );
  });

  it("reads TLS from DATABASE_SSL_* or from the URL's libpq parameters, and strips those from the URL", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "db-config-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const ca = join(dir, "ca.pem");
    writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");

    const fromEnv = read({ DATABASE_URL: URL, DATABASE_SSL_MODE: "verify-full", DATABASE_SSL_CA_FILE: ca });
    assert.equal(fromEnv.tls?.mode, "verify-full");
    assert.match(fromEnv.tls?.ca ?? "", /BEGIN CERTIFICATE/);

    const fromUrl = read({ DATABASE_URL: `${URL}?sslmode=verify-ca&sslrootcert=${encodeURIComponent(ca)}` });
    assert.equal(fromUrl.tls?.mode, "verify-ca");
    assert.match(fromUrl.tls?.ca ?? "", /BEGIN CERTIFICATE/);
    assert.equal(fromUrl.url, URL, "pg must not see sslmode: it would override the ssl options");

    const envWins = read({ DATABASE_URL: `${URL}?sslmode=require`, DATABASE_SSL_MODE: "disable" });
    assert.equal(envWins.tls, undefined);

    assert.throws(
      () => read({ DATABASE_URL: URL, DATABASE_SSL_MODE: "require", DATABASE_SSL_CA_FILE: join(dir, "missing.pem") }),
      /^Error: DATABASE_SSL_CA_FILE: cannot read .*missing\.pem/,
    );
    assert.throws(
      () => read({ DATABASE_URL: URL, DATABASE_SSL_MODE: "require", DATABASE_SSL_CERT_FILE: ca }),
      /DATABASE_SSL_CERT_FILE and DATABASE_SSL_KEY_FILE must be set together/,
    );
    assert.throws(() => read({ DATABASE_URL: URL, DATABASE_SSL_CA_FILE: ca }), /need DATABASE_SSL_MODE/);
  });

  it("redacts passwords", () => {
    assert.equal(redactDatabaseUrl(URL), "postgres://catalog:***@db.internal:5432/catalog");
    assert.equal(redactDatabaseUrl("postgres://u@h/d"), "postgres://u@h/d");
  });
});
