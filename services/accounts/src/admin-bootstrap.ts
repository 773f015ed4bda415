// The first admin: from ADMIN_EMAIL and ADMIN_PASSWORD, or, at the first local start without
// them, generated and printed once in the log.
import { randomBytes, randomUUID } from "node:crypto";
import type { Logger } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import { adminExists, findAccountByEmail, insertAccount, lockAdminBootstrap, setRole } from "./db/accounts.js";
import type { AccountsSchema } from "./db/schema.js";
import type { PasswordHasher } from "./passwords.js";
import { emailProblem, normalizeEmail, normalizePassword, passwordProblems } from "./validation.js";

/** The email of the admin generated when none is configured. */
export const GENERATED_ADMIN_EMAIL = "admin@obfy.localhost";

/** What {@link ensureFirstAdmin} did. */
export type AdminBootstrap =
  | { readonly outcome: "configured-created" | "configured-promoted" | "configured-present"; readonly email: string }
  | { readonly outcome: "generated"; readonly email: string; readonly password: string }
  | { readonly outcome: "admin-present" | "none" };

/**
 * Makes sure the first admin exists, once across replicas (an advisory lock):
 * - with `admin` (ADMIN_EMAIL, ADMIN_PASSWORD): creates that account as admin, or makes the
 *   account with that email an admin (its password unchanged); a configured password must follow
 *   the password rules, else the service does not start;
 * - without, when no admin exists and not in production: creates `admin@obfy.localhost` with a
 *   random password and logs it, once (a warning, so it shows at every log level);
 * - without, in production: logs that there is no admin.
 */
export async function ensureFirstAdmin(options: {
  readonly database: Database<AccountsSchema>;
  readonly hasher: PasswordHasher;
  readonly logger: Logger;
  readonly admin: { readonly email: string; readonly password: string } | undefined;
  readonly production: boolean;
}): Promise<AdminBootstrap> {
  const { database, hasher, logger, admin } = options;
  if (admin !== undefined) {
    const email = normalizeEmail(admin.email);
    const problem = emailProblem(email);
    if (problem !== undefined) throw new Error(`ADMIN_EMAIL: ${problem}`);
    const problems = passwordProblems(admin.password, email);
    if (problems.length > 0)
      throw new Error(`ADMIN_PASSWORD does not follow the password rules: ${problems.join("; ")}`);
    const passwordHash = await hasher.hash(normalizePassword(admin.password));
    const outcome = await database.transaction(async (trx) => {
      await lockAdminBootstrap(trx);
      const existing = await findAccountByEmail(trx, email);
      if (existing === undefined) {
        await insertAccount(trx, { id: randomUUID(), email, passwordHash, role: "admin" });
        return "configured-created" as const;
      }
      if (existing.role === "admin") return "configured-present" as const;
      await setRole(trx, existing.id, "admin");
      return "configured-promoted" as const;
    });
    if (outcome === "configured-created") logger.info({ email }, `Admin account ${email} created from ADMIN_EMAIL`);
    if (outcome === "configured-promoted") logger.info({ email }, `Account ${email} made an admin (ADMIN_EMAIL)`);
    return { outcome, email };
  }

  if (await adminExists(database.kysely)) return { outcome: "admin-present" };
  if (options.production) {
    logger.warn("No admin account: set ADMIN_EMAIL and ADMIN_PASSWORD to create the first one");
    return { outcome: "none" };
  }
  const password = randomBytes(18).toString("base64url");
  const passwordHash = await hasher.hash(password);
  const created = await database.transaction(async (trx) => {
    await lockAdminBootstrap(trx);
    if (await adminExists(trx)) return false;
    const existing = await findAccountByEmail(trx, GENERATED_ADMIN_EMAIL);
    if (existing !== undefined) {
      await setRole(trx, existing.id, "admin");
      return false;
    }
    await insertAccount(trx, { id: randomUUID(), email: GENERATED_ADMIN_EMAIL, passwordHash, role: "admin" });
    return true;
  });
  if (!created) return { outcome: "admin-present" };
  logger.warn(
    { email: GENERATED_ADMIN_EMAIL },
    `First admin account created: sign in as ${GENERATED_ADMIN_EMAIL} with password ${password} ` +
      "(printed this once; set ADMIN_EMAIL and ADMIN_PASSWORD to choose them)",
  );
  return { outcome: "generated", email: GENERATED_ADMIN_EMAIL, password };
}
