import { createHash } from "node:crypto";

/**
 * The shop's only script, which only enhances pages that work without it: the book page's stock
 * and the order page's status follow server-sent events, and a submitted form's button is
 * disabled so a double click sends one order. Served as a file (CSP `script-src 'self'`).
 */
export const SCRIPT = `"use strict";
(function () {
  function follow(element, url, event, apply) {
    if (!element || !("EventSource" in window)) return;
    var source = new EventSource(url);
    source.addEventListener(event, function (message) {
      var data = JSON.parse(message.data);
      apply(data);
      if (data.final) source.close();
    });
    source.addEventListener("end", function () { source.close(); });
  }
  var stock = document.querySelector("[data-stock-url]");
  follow(stock, stock && stock.getAttribute("data-stock-url"), "stock", function (data) {
    stock.textContent = data.text;
    stock.setAttribute("data-available", String(data.available));
  });
  var order = document.querySelector("[data-order-url]");
  follow(order, order && order.getAttribute("data-order-url"), "order", function (data) {
    var status = order.querySelector("[data-status]");
    var reason = order.querySelector("[data-reason]");
    if (status) status.textContent = data.status;
    if (reason) { reason.textContent = data.reason; reason.hidden = data.reason === ""; }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) return;
    if (form.getAttribute("data-sent") === "1") { event.preventDefault(); return; }
    form.setAttribute("data-sent", "1");
  });
})();
`;

/** Where pages load the script from: the hash changes with the content, so caching forever is safe. */
export const SCRIPT_PATH = `/assets/app.${createHash("sha256").update(SCRIPT).digest("hex").slice(0, 12)}.js`;

/** The ETag of {@link SCRIPT}. */
export const SCRIPT_ETAG = `"${createHash("sha256").update(SCRIPT).digest("base64url")}"`;
