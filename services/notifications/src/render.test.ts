// The templates rendered without a database: text as typed, HTML escaped, amounts formatted.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createRenderer } from "./render.js";

const render = createRenderer({ marketplaceUrl: "https://books.example/" });

test("a receipt: one line per book, the total, the order link", () => {
  const mail = render("receipt", {
    orderId: "o-1",
    currencyCode: "USD",
    lines: [
      { title: "Dune", quantity: 2, unitPriceMinor: 1299 },
      { title: "Emma", quantity: 1, unitPriceMinor: 850 },
    ],
    amountMinor: 3448,
  });
  assert.equal(mail.subject, "Your receipt for order o-1");
  assert.equal(
    mail.text,
    [
      "Thank you for your order o-1.",
      "",
      "  2 x Dune  $12.99  = $25.98",
      "  1 x Emma  $8.50  = $8.50",
      "",
      "Total charged: $34.48",
      "",
      "View your order: https://books.example/orders/o-1",
      "",
      "Online Books For You",
      "",
    ].join("\n"),
  );
  assert.match(mail.html, /<a href="https:\/\/books\.example\/orders\/o-1">View your order<\/a>/);
});

test("a cancellation says whether money comes back", () => {
  const facts = {
    orderId: "o-2",
    currencyCode: "USD",
    lines: [{ title: "Dune", quantity: 1, unitPriceMinor: 100 }],
    reason: "Out of stock",
  };
  assert.match(
    render("order_cancelled", facts).text,
    /was cancelled: Out of stock\n\n {2}1 x Dune {2}\$1\.00 {2}= \$1\.00\n\nNothing was charged to your card\.\n/,
  );
  assert.match(render("order_cancelled", { ...facts, refunded: true }).text, /The amount charged is refunded/);
});

test("HTML escapes every value; the subject has no control characters; the link is encoded", () => {
  const mail = render("order_refunded", {
    orderId: 'x"\r\nBcc: evil@example.com',
    currencyCode: "USD",
    lines: [],
    amountMinor: 100,
    reason: `<img src=x onerror="alert(1)">`,
  });
  assert.ok(!mail.subject.includes("\n") && !mail.subject.includes("\r"));
  assert.ok(!mail.html.includes("<img"));
  assert.ok(mail.html.includes("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"));
  assert.ok(mail.text.includes(`<img src=x onerror="alert(1)">`));
  assert.ok(mail.html.includes("/orders/x%22%0D%0ABcc%3A%20evil%40example.com"));
});
