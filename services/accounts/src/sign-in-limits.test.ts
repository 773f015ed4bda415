// Sign-in rate limits against real PostgreSQL: per account and per address, exponential
// backoff, the same for unknown emails, shared by replicas, and tight under concurrent guesses.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { readStatusDetails } from "@obfy/kit/core";
import { googleRpcErrorDetails } from "@obfy/protos";
import { type AccountsHarness, GOOD_PASSWORD, startAccountsHarness } from "./fixtures/accounts-harness.js";

/** The outcome of a call: "OK", or the status name and message. */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "OK";
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    return `${error.codeName}: ${error.details}`;
  }
}

const WRONG = "UNAUTHENTICATED: Email or password is incorrect";
const LOCKED = /^RESOURCE_EXHAUSTED: Too many sign-in attempts; try again in (\d+) seconds?$/;

describe("sign-in limits", () => {
  let h: AccountsHarness;
  let ip = 1;
  /** A fresh documentation address (TEST-NET-3) per test, so tests do not share address counters. */
  const freshIp = () => `203.0.113.${ip++}`;
  let n = 0;
  const freshEmail = () => `limits-${++n}-${Date.now()}@example.com`;
  const signIn = (email: string, password: string, ipAddress: string, via = h.accounts) =>
    outcome(via.signIn({ email, password, client: { ipAddress, userAgent: "test" } }, { timeoutMs: 30_000 }));
  const waitOf = (result: string): number => Number(LOCKED.exec(result)?.[1] ?? Number.NaN);

  before(async () => {
    h = await startAccountsHarness({
      env: {
        SIGN_IN_ACCOUNT_FREE_FAILURES: "3",
        SIGN_IN_ADDRESS_FREE_FAILURES: "6",
        SIGN_IN_BACKOFF_BASE_SECONDS: "30",
        SIGN_IN_BACKOFF_MAX_SECONDS: "120",
      },
    });
  });
  after(() => h?.stop());

  /** Lets the current wait of a counter pass, as time would. */
  const passTime = (kind: "account" | "address", key: string) =>
    h.db
      .updateTable("sign_in_throttle")
      .set({ locked_until: new Date(Date.now() - 1000) })
      .where("kind", "=", kind)
      .where("key", "=", key)
      .execute();

  test("per account: free failures, then a wait that the right password does not skip, with RetryInfo", async () => {
    const email = freshEmail();
    await h.signUp(email);
    const results: string[] = [];
    for (let i = 0; i < 4; i++) results.push(await signIn(email, "wrong password!", freshIp()));
    assert.deepEqual(
      results,
      [WRONG, WRONG, WRONG, WRONG],
      "3 free failures, and the 4th is checked and sets the wait",
    );
    const error = await h.accounts
      .signIn({ email, password: GOOD_PASSWORD, client: { ipAddress: freshIp(), userAgent: "" } })
      .catch((e: unknown) => e);
    assert.ok(error instanceof ClientError);
    const locked = `${error.codeName}: ${error.details}`;
    assert.match(locked, LOCKED);
    assert.ok(waitOf(locked) >= 29 && waitOf(locked) <= 30, locked);
    const retry = readStatusDetails(error.metadata).find((d) => d.typeUrl.endsWith("google.rpc.RetryInfo"));
    assert.ok(retry, "a google.rpc.RetryInfo detail");
    const delay = googleRpcErrorDetails.RetryInfo.decode(retry.value).retryDelay?.seconds ?? 0;
    assert.ok(delay >= 29 && delay <= 30, String(delay));
  });

  test("the wait doubles with each failure up to the maximum; a success clears the account", async () => {
    const email = freshEmail();
    await h.signUp(email);
    for (let i = 0; i < 4; i++) assert.equal(await signIn(email, "wrong password!", freshIp()), WRONG);
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      await passTime("account", email);
      assert.equal(await signIn(email, "wrong password!", freshIp()), WRONG);
      waits.push(waitOf(await signIn(email, "wrong password!", freshIp())));
    }
    assert.ok(waits[0] !== undefined && waits[0] >= 59 && waits[0] <= 60, `60 s, then the 120 s maximum: ${waits}`);
    assert.ok(
      waits.slice(1).every((w) => w >= 119 && w <= 120),
      `${waits}`,
    );
    await passTime("account", email);
    assert.equal(await signIn(email, GOOD_PASSWORD, freshIp()), "OK");
    const row = await h.db.selectFrom("sign_in_throttle").selectAll().where("key", "=", email).executeTakeFirst();
    assert.equal(row, undefined, "the account's failures are forgotten");
    for (let i = 0; i < 3; i++) assert.equal(await signIn(email, "wrong password!", freshIp()), WRONG);
  });

  test("an unknown email goes through exactly the same steps", async () => {
    const known = freshEmail();
    await h.signUp(known);
    const unknown = freshEmail();
    const steps = async (email: string) => {
      const out: string[] = [];
      for (let i = 0; i < 5; i++)
        out.push((await signIn(email, "wrong password!", freshIp())).replace(/\d+ seconds/, "N seconds"));
      return out;
    };
    assert.deepEqual(await steps(unknown), await steps(known));
  });

  test("per address: many accounts from one address wait; another address does not; an IPv6 /64 is one address", async () => {
    const address = freshIp();
    const results: string[] = [];
    for (let i = 0; i < 8; i++) results.push(await signIn(freshEmail(), "wrong password!", address));
    assert.deepEqual(results.slice(0, 7), Array(7).fill(WRONG));
    assert.match(results[7] ?? "", LOCKED);
    assert.equal(await signIn(freshEmail(), "wrong password!", freshIp()), WRONG);

    const v6: string[] = [];
    for (let i = 0; i < 8; i++)
      v6.push(await signIn(freshEmail(), "wrong password!", `2001:db8:aa:bb::${(i + 1).toString(16)}`));
    assert.match(v6[7] ?? "", LOCKED, "hosts of one /64 share a counter");
    assert.equal(await signIn(freshEmail(), "wrong password!", "2001:db8:aa:cc::1"), WRONG, "another /64 does not");
  });

  test("replicas share the counters", async () => {
    const replica = await h.startReplica();
    try {
      const email = freshEmail();
      await h.signUp(email);
      for (let i = 0; i < 4; i++) assert.equal(await signIn(email, "wrong password!", freshIp(), h.accounts), WRONG);
      assert.match(await signIn(email, GOOD_PASSWORD, freshIp(), replica.accounts), LOCKED);
    } finally {
      await replica.service.stop();
    }
  });

  test("concurrent guesses cannot slip past the limit", async () => {
    const email = freshEmail();
    await h.signUp(email);
    const results = await Promise.all(Array.from({ length: 10 }, () => signIn(email, "wrong password!", freshIp())));
    assert.equal(results.filter((r) => r === WRONG).length, 4, results.join("\n"));
    assert.equal(results.filter((r) => LOCKED.test(r)).length, 6, results.join("\n"));
  });

  test("guessing the current password through ChangePassword counts on the account", async () => {
    const email = freshEmail();
    const signedIn = await h.signUp(email);
    const metadata = h.bearer(signedIn.accessToken?.token ?? "");
    const change = () =>
      outcome(
        h.accounts.changePassword(
          {
            sessionToken: signedIn.sessionToken,
            currentPassword: "wrong password!",
            newPassword: "another good passphrase",
          },
          { metadata },
        ),
      );
    for (let i = 0; i < 4; i++) assert.equal(await change(), "UNAUTHENTICATED: Current password is incorrect");
    assert.match(await change(), LOCKED);
    assert.match(await signIn(email, GOOD_PASSWORD, freshIp()), LOCKED);
  });
});
