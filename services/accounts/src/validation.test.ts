// The field rules on their own: email normalisation and syntax, the password rules, addresses.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addressKey } from "./sign-in-limiter.js";
import { checkClientInfo, emailProblem, normalizeEmail, passwordProblems } from "./validation.js";

describe("emails", () => {
  test("are trimmed, lower-cased (the domain too) and NFC-normalised", () => {
    assert.equal(normalizeEmail("  Alice.Smith@Example.COM \t"), "alice.smith@example.com");
    // "é" written as e + combining acute accent, and precomposed: one address.
    assert.equal(normalizeEmail("Ren\u0065\u0301@example.com"), normalizeEmail("REN\u00c9@EXAMPLE.COM"));
    assert.equal(normalizeEmail("Ren\u0065\u0301@example.com"), "ren\u00e9@example.com");
  });

  test("must be syntactically valid and at most 254 characters", () => {
    for (const ok of ["a@b.co", "first.last+tag@sub.example.org", "ren\u00e9@b\u00fccher.de", "x_y-z@e-x.com"]) {
      assert.equal(emailProblem(ok), undefined, ok);
    }
    for (const bad of [
      "plain",
      "@example.com",
      "a@",
      "a@b",
      "a@b.",
      "a@.com",
      "a b@example.com",
      "a@@example.com",
      "a@exa mple.com",
      ".a@example.com",
      "a.@example.com",
      "a..b@example.com",
      "a@-x.com",
      "a@x-.com",
      "a@example.123",
      '"a"@example.com',
      "a\u0000@example.com",
      "<a>@example.com",
      `${"a".repeat(65)}@example.com`,
    ]) {
      assert.equal(emailProblem(bad), "email must be a valid email address", bad);
    }
    assert.equal(emailProblem(""), "email is required");
    const longest = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
    assert.equal(longest.length, 254);
    assert.equal(emailProblem(longest), undefined);
    assert.equal(emailProblem(`${longest}d`), "email must be at most 254 characters");
  });
});

describe("the password rules", () => {
  const email = "alice@example.com";
  test("a good password breaks none", () => {
    assert.deepEqual(passwordProblems("correct horse battery staple", email), []);
    assert.deepEqual(passwordProblems("\u00e9".repeat(10), email), [], "characters, not bytes");
  });
  test("10 to 128 characters", () => {
    assert.deepEqual(passwordProblems("", email), ["Password is required"]);
    assert.deepEqual(passwordProblems("Xq7#pLm2!", email), ["Password must be at least 10 characters"]);
    assert.deepEqual(passwordProblems("Xq7#pLm2!z", email), []);
    assert.deepEqual(passwordProblems("k".repeat(128), email), []);
    assert.deepEqual(passwordProblems("k".repeat(129), email), ["Password must be at most 128 characters"]);
    // e + combining accent counts as one character once normalised.
    assert.deepEqual(passwordProblems("e\u0301".repeat(9), email), ["Password must be at least 10 characters"]);
  });
  test("not only spaces", () => {
    assert.deepEqual(passwordProblems(" ".repeat(12), email), ["Password must not be only spaces"]);
    assert.deepEqual(passwordProblems(" \t ".repeat(4), email), ["Password must not be only spaces"]);
  });
  test("not the email address, in any case", () => {
    assert.deepEqual(passwordProblems("Alice@Example.com", email), ["Password must not be your email address"]);
  });
  test("not one of the 10,000 most common passwords, in any case", () => {
    for (const common of ["1234567890", "qwertyuiop", "QwertyUiop", "basketball", "Christopher", "1q2w3e4r5t"]) {
      assert.deepEqual(
        passwordProblems(common, email),
        ["Password is one of the 10,000 most common passwords; choose another"],
        common,
      );
    }
  });
  test("several broken rules are all reported", () => {
    assert.deepEqual(passwordProblems("   ", email), [
      "Password must be at least 10 characters",
      "Password must not be only spaces",
    ]);
  });
});

describe("client addresses", () => {
  test("IPv4 as is, IPv6 by its /64, mapped IPv4 as IPv4, none as the caller's", () => {
    assert.equal(addressKey("203.0.113.7", "10.0.0.1:1234"), "203.0.113.7");
    assert.equal(addressKey("2001:db8:1:2:3:4:5:6", ""), "2001:db8:1:2::/64");
    assert.equal(addressKey("2001:DB8:1:2::99", ""), "2001:db8:1:2::/64");
    assert.equal(addressKey("2001:db8::1", ""), "2001:db8:0:0::/64");
    assert.equal(addressKey("::ffff:198.51.100.3", ""), "198.51.100.3");
    assert.equal(addressKey("", "127.0.0.1:5555"), "127.0.0.1");
    assert.equal(addressKey("", "[::1]:5555"), "0:0:0:0::/64");
  });
  test("ClientInfo: an address must be an IP; the user agent is cut to 300 characters", () => {
    assert.throws(
      () => checkClientInfo({ ipAddress: "not-an-ip", userAgent: "" }),
      /client.ip_address must be an IP address/,
    );
    assert.equal(checkClientInfo({ ipAddress: "", userAgent: "u".repeat(500) }).userAgent.length, 300);
    assert.equal(checkClientInfo(undefined).ipAddress, "");
  });
});
