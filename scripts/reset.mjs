#!/usr/bin/env node
// `npm run reset`: deletes the local data of `npm start`, DATA_DIR (default .data/ at the
// repository root): the embedded PostgreSQL's data folder and its password. The next
// `npm start` initialises a new server and creates the services' databases again.
// Refuses while that PostgreSQL is running (stop `npm start` first).
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
const dataDir = resolve(process.env.DATA_DIR?.trim() || join(repoRoot, ".data"));
const shown = relative(process.cwd(), dataDir) || dataDir;

if (!existsSync(dataDir)) {
  process.stdout.write(`reset: ${shown} does not exist; nothing to delete\n`);
  process.exit(0);
}
// postmaster.pid is PostgreSQL's lock file: its first line is the server's PID while it runs.
const lockFile = join(dataDir, "postgres", "postmaster.pid");
if (existsSync(lockFile)) {
  const pid = Number(readFileSync(lockFile, "utf8").split("\n")[0]);
  let running = false;
  try {
    process.kill(pid, 0);
    running = true;
  } catch (error) {
    running = error.code === "EPERM";
  }
  if (Number.isInteger(pid) && pid > 0 && running) {
    process.stderr.write(`reset: PostgreSQL is running on ${shown} (pid ${pid}); stop \`npm start\` first\n`);
    process.exit(1);
  }
}
rmSync(dataDir, { recursive: true, force: true });
process.stdout.write(
  `reset: deleted ${shown} (the embedded PostgreSQL's data); the next \`npm start\` creates it again\n`,
);
