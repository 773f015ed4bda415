// The mails' templates (Eta), kept in code so the bundle carries them. The HTML ones escape
// every value (`<%= %>` with autoEscape); the text ones print values as they are, and keep
// their newlines except after control tags marked `-%>`.

/** What every template gets as `it`. */
export interface TemplateData {
  readonly subject: string;
  readonly orderId: string;
  readonly orderUrl: string;
  readonly lines: readonly { title: string; quantity: number; unitPrice: string; lineTotal: string }[];
  /** The formatted total (receipt) or refunded amount. */
  readonly amount: string;
  readonly reason: string;
  readonly refunded: boolean;
}

const TEXT_LINES = `<% it.lines.forEach(function (line) { -%>
  <%= line.quantity %> x <%= line.title %>  <%= line.unitPrice %>  = <%= line.lineTotal %>
<% }) -%>`;

const HTML_LINES = `<table>
<thead><tr><th align="left">Book</th><th>Qty</th><th align="right">Price</th><th align="right">Total</th></tr></thead>
<tbody>
<% it.lines.forEach(function (line) { %>
<tr><td><%= line.title %></td><td align="center"><%= line.quantity %></td><td align="right"><%= line.unitPrice %></td><td align="right"><%= line.lineTotal %></td></tr>
<% }) %>
</tbody>
</table>`;

function html(body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title><%= it.subject %></title></head>
<body style="font-family: sans-serif">
<h1><%= it.subject %></h1>
${body}
<p><a href="<%= it.orderUrl %>">View your order</a></p>
<p>Online Books For You</p>
</body>
</html>
`;
}

const SIGNATURE = `
View your order: <%= it.orderUrl %>

Online Books For You
`;

/** Text and HTML templates per mail kind. */
export const TEMPLATES = {
  receipt: {
    text: `Thank you for your order <%= it.orderId %>.

${TEXT_LINES}

Total charged: <%= it.amount %>
${SIGNATURE}`,
    html: html(`<p>Thank you for your order <strong><%= it.orderId %></strong>.</p>
${HTML_LINES}
<p>Total charged: <strong><%= it.amount %></strong></p>`),
  },
  order_cancelled: {
    text: `Your order <%= it.orderId %> was cancelled: <%= it.reason %>

${TEXT_LINES}

<% if (it.refunded) { -%>
The amount charged is refunded to your card.
<% } else { -%>
Nothing was charged to your card.
<% } -%>
${SIGNATURE}`,
    html: html(`<p>Your order <strong><%= it.orderId %></strong> was cancelled: <%= it.reason %></p>
${HTML_LINES}
<% if (it.refunded) { %>
<p>The amount charged is refunded to your card.</p>
<% } else { %>
<p>Nothing was charged to your card.</p>
<% } %>`),
  },
  order_shipped: {
    text: `Your order <%= it.orderId %> is on its way.

${TEXT_LINES}
${SIGNATURE}`,
    html: html(`<p>Your order <strong><%= it.orderId %></strong> is on its way.</p>
${HTML_LINES}`),
  },
  order_refunded: {
    text: `Your order <%= it.orderId %> was refunded: <%= it.reason %>

Refunded to your card: <%= it.amount %>
${SIGNATURE}`,
    html: html(`<p>Your order <strong><%= it.orderId %></strong> was refunded: <%= it.reason %></p>
<p>Refunded to your card: <strong><%= it.amount %></strong></p>`),
  },
} as const;
