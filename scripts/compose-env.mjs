#!/usr/bin/env node
// `npm run compose:env`: writes .env beside compose.yaml with a random password for the PostgreSQL
// superuser, one per service's database role, one for RabbitMQ, and the Marketplace's
// COOKIE_SECRET. Docker Compose reads .env by itself; the file is git-ignored and created with
// mode 0600. An existing .env is kept (rotating passwords of an initialised volume needs ALTER
// ROLE, see docs/deployment.md); pass --force to replace it.
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEPLOYABLES } from "../deploy/generate.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const file = join(root, ".env");
if (existsSync(file) && !process.argv.includes("--force")) {
  console.log(".env exists; keeping it (npm run compose:env -- --force replaces it)");
  process.exit(0);
}
const secret = () => randomBytes(24).toString("hex");
const lines = [
  "# Written by npm run compose:env; never commit this file.",
  `POSTGRES_PASSWORD=${secret()}`,
  `RABBITMQ_PASSWORD=${secret()}`,
  `COOKIE_SECRET=${randomBytes(48).toString("base64url")}`,
  ...DEPLOYABLES.filter((d) => d.database).map(
    (d) => `${d.name.toUpperCase().replaceAll("-", "_")}_DB_PASSWORD=${secret()}`,
  ),
];
writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
console.log(`wrote ${file}: passwords for PostgreSQL, RabbitMQ and ${lines.length - 4} service databases`);
