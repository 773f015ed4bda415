// The AccountsService's RPCs: sign-up, sign-in, sessions and accounts.
import { randomUUID } from "node:crypto";
import type { CallContext } from "@obfy/kit/core";
import type { Database, Kysely, Transaction } from "@obfy/kit/db";
import { type Principal, requirePrincipal } from "@obfy/kit/security";
import type { ServiceImplementation } from "@obfy/kit/server";
import type { accountsV1 } from "@obfy/protos";
import {
  type AccountRow,
  findAccountByEmail,
  findAccountById,
  insertAccount,
  listAccounts,
  updatePasswordHash,
} from "./db/accounts.js";
import type { AccountsSchema } from "./db/schema.js";
import {
  findLiveSession,
  findOwnSession,
  insertSession,
  listLiveSessions,
  revokeById,
  revokeByTokenHash,
  revokeOthers,
  touchLiveSession,
} from "./db/sessions.js";
import {
  accountNotFound,
  adminRequired,
  emailTaken,
  invalidField,
  invalidPageToken,
  sessionEnded,
  sessionNotFound,
  signedInAccountRequired,
  wrongCredentials,
  wrongCurrentPassword,
} from "./errors.js";
import { accountOf, decodePageToken, encodePageToken, sessionOf, timestamp } from "./messages.js";
import type { PasswordHasher } from "./passwords.js";
import { hashSecret, newSecret } from "./secrets.js";
import { addressKey, type SignInLimiter } from "./sign-in-limiter.js";
import type { TokenIssuer } from "./token-issuer.js";
import {
  checkClientInfo,
  checkEmail,
  checkId,
  checkNewPassword,
  checkPageSize,
  checkSecret,
  isUuid,
  MAX_EMAIL_LENGTH,
  MAX_PASSWORD_LENGTH,
  normalizeEmail,
  normalizePassword,
} from "./validation.js";

/** What the handlers need. */
export interface AccountsHandlerDeps {
  readonly database: Database<AccountsSchema>;
  readonly hasher: PasswordHasher;
  readonly limiter: SignInLimiter;
  readonly issuer: TokenIssuer;
  /** A session unused this many days has ended. */
  readonly sessionIdleDays: number;
}

/** The caller's account id, from a token of an account (not a client's). */
function callerAccount(context: CallContext): Principal {
  const principal = requirePrincipal(context);
  if (principal.role === "client") throw signedInAccountRequired();
  return principal;
}

/** Creates the AccountsService handlers. */
export function createAccountsHandlers(
  deps: AccountsHandlerDeps,
): ServiceImplementation<typeof accountsV1.AccountsServiceService> {
  const { database, hasher, limiter, issuer, sessionIdleDays } = deps;
  const db = database.kysely;

  /** A new session for the account and its first access token. */
  async function signedIn(
    account: AccountRow,
    client: { ipAddress: string; userAgent: string },
    trx: Kysely<AccountsSchema> | Transaction<AccountsSchema> = db,
  ): Promise<accountsV1.SignedIn> {
    const sessionToken = newSecret();
    const session = await insertSession(trx, {
      id: randomUUID(),
      accountId: account.id,
      tokenHash: hashSecret(sessionToken),
      userAgent: client.userAgent,
      ipAddress: client.ipAddress,
      idleDays: sessionIdleDays,
    });
    const access = await issuer.issueAccountToken({
      accountId: account.id,
      email: account.email,
      role: account.role,
      sessionId: session.id,
    });
    return {
      account: accountOf(account),
      sessionToken,
      session: sessionOf(session),
      accessToken: { token: access.token, expireTime: timestamp(access.expiresAt) },
    };
  }

  return {
    async signUp(request) {
      const email = checkEmail("email", request.email);
      const password = checkNewPassword("password", request.password, email);
      const client = checkClientInfo(request.client);
      const passwordHash = await hasher.hash(password);
      const answer = await database.transaction(async (trx) => {
        const account = await insertAccount(trx, { id: randomUUID(), email, passwordHash, role: "shopper" });
        if (account === undefined) throw emailTaken();
        return signedIn(account, client, trx);
      });
      return { signedIn: answer };
    },

    async signIn(request, context) {
      // Only what every attempt needs: a malformed address is simply an unknown one.
      if (request.email.trim() === "") throw invalidField("email", "email is required");
      if ([...request.email].length > MAX_EMAIL_LENGTH + 100) {
        throw invalidField("email", `email must be at most ${MAX_EMAIL_LENGTH} characters`);
      }
      if (request.password === "") throw invalidField("password", "Password is required");
      if ([...request.password].length > MAX_PASSWORD_LENGTH) {
        throw invalidField("password", `Password must be at most ${MAX_PASSWORD_LENGTH} characters`);
      }
      const email = normalizeEmail(request.email);
      const password = normalizePassword(request.password);
      const client = checkClientInfo(request.client);
      const keys = { email, address: addressKey(client.ipAddress, context.peer) };
      await limiter.admit(keys);
      const account = await findAccountByEmail(db, email);
      if (account === undefined) {
        await hasher.verifyNothing(password);
        throw wrongCredentials();
      }
      if (!(await hasher.verify(account.password_hash, password))) throw wrongCredentials();
      await limiter.succeeded(keys);
      if (hasher.needsRehash(account.password_hash)) {
        await updatePasswordHash(db, account.id, await hasher.hash(password), false);
      }
      return { signedIn: await signedIn(account, client) };
    },

    async refreshAccessToken(request) {
      const token = checkSecret("session_token", request.sessionToken);
      const session = await touchLiveSession(db, hashSecret(token), sessionIdleDays);
      if (session === undefined) throw sessionEnded();
      const account = await findAccountById(db, session.account_id);
      if (account === undefined) throw sessionEnded();
      const access = await issuer.issueAccountToken({
        accountId: account.id,
        email: account.email,
        role: account.role,
        sessionId: session.id,
      });
      return {
        accessToken: { token: access.token, expireTime: timestamp(access.expiresAt) },
        account: accountOf(account),
      };
    },

    async signOut(request) {
      const token = checkSecret("session_token", request.sessionToken);
      await revokeByTokenHash(db, hashSecret(token));
      return {};
    },

    async getAccount(request, context) {
      const principal = requirePrincipal(context);
      const requested = checkId("account_id", request.accountId);
      if (requested === "me" && principal.role === "client") throw signedInAccountRequired();
      const id = requested === "me" ? principal.subject : requested;
      if (id !== principal.subject && principal.role !== "admin") throw adminRequired();
      const account = isUuid(id) ? await findAccountById(db, id) : undefined;
      if (account === undefined) throw accountNotFound();
      return { account: accountOf(account) };
    },

    async changePassword(request, context) {
      const principal = callerAccount(context);
      const token = checkSecret("session_token", request.sessionToken);
      if (request.currentPassword === "") throw invalidField("current_password", "current_password is required");
      const session = await findLiveSession(db, hashSecret(token));
      if (session === undefined || session.account_id !== principal.subject) throw sessionEnded();
      const account = await findAccountById(db, session.account_id);
      if (account === undefined) throw sessionEnded();
      const newPassword = checkNewPassword("new_password", request.newPassword, account.email);
      // Guessing the current password through a stolen access token is throttled like sign-in.
      const keys = { email: account.email, address: undefined };
      await limiter.admit(keys);
      const current = normalizePassword(request.currentPassword);
      if ([...current].length > MAX_PASSWORD_LENGTH || !(await hasher.verify(account.password_hash, current))) {
        throw wrongCurrentPassword();
      }
      await limiter.succeeded(keys);
      const passwordHash = await hasher.hash(newPassword);
      const revoked = await database.transaction(async (trx) => {
        await findAccountById(trx, account.id, { lock: true });
        await updatePasswordHash(trx, account.id, passwordHash, true);
        return revokeOthers(trx, account.id, session.id);
      });
      return { revokedSessionCount: revoked };
    },

    async listSessions(_request, context) {
      const principal = callerAccount(context);
      if (!isUuid(principal.subject)) return { sessions: [] };
      const rows = await listLiveSessions(db, principal.subject, context.signal);
      return { sessions: rows.map(sessionOf) };
    },

    async revokeSession(request, context) {
      const principal = callerAccount(context);
      const sessionId = checkId("session_id", request.sessionId);
      if (!isUuid(sessionId) || !isUuid(principal.subject)) throw sessionNotFound();
      const session = await findOwnSession(db, principal.subject, sessionId);
      if (session === undefined) throw sessionNotFound();
      await revokeById(db, session.id);
      return {};
    },

    async listAccounts(request, context) {
      const limit = checkPageSize(request.pageSize);
      const contains = normalizeEmail(request.emailContains);
      if ([...contains].length > MAX_EMAIL_LENGTH) {
        throw invalidField("email_contains", `email_contains must be at most ${MAX_EMAIL_LENGTH} characters`);
      }
      let after: string | undefined;
      if (request.pageToken !== "") {
        const token = decodePageToken(request.pageToken, { contains });
        if (token?.after === undefined) throw invalidPageToken();
        after = token.after;
      }
      const rows = await listAccounts(db, { afterEmail: after, contains, limit: limit + 1 }, context.signal);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        accounts: page.map(accountOf),
        nextPageToken:
          rows.length > limit && last !== undefined ? encodePageToken({ contains, after: last.email }) : "",
      };
    },
  };
}
