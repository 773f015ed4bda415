import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { identityFromCertificate } from "../security/peer-identity.js";
import { createDevCertificates } from "./dev-certificates.js";

const cert = async (file: string) => new X509Certificate(await readFile(file));

test("createDevCertificates: idempotent, --renew re-issues leaves, --force replaces the CA", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "obfy-devcerts-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const first = await createDevCertificates({ dir, namespace: "shop", log: (l) => lines.push(l) });

  const ca = await cert(first.ca.certFile);
  const server = await cert(first.server.certFile);
  const client = await cert(first.client.certFile);
  assert.ok(ca.ca);
  assert.ok(server.verify(ca.publicKey) && client.verify(ca.publicKey));
  assert.equal(
    server.subjectAltName,
    "DNS:recommendations, DNS:recommendations.shop, DNS:recommendations.shop.svc, DNS:recommendations.shop.svc.cluster.local, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, URI:spiffe://online-books/recommendations",
  );
  assert.ok(server.checkHost("recommendations.shop.svc.cluster.local"));
  assert.equal(client.subjectAltName, "URI:spiffe://online-books/marketplace");
  assert.match(String(client.keyUsage ?? ""), /1\.3\.6\.1\.5\.5\.7\.3\.2/, "client certificate is for clientAuth");
  assert.equal((await stat(first.ca.keyFile)).mode & 0o077, 0, "CA key is private");
  assert.equal((await stat(first.client.keyFile)).mode & 0o077, 0, "client key is private");
  assert.equal(first.ca.keyFile, join(dir, "ca", "ca.key"));

  await createDevCertificates({ dir, log: (l) => lines.push(l) });
  assert.equal((await cert(first.server.certFile)).serialNumber, server.serialNumber, "kept while valid");
  assert.ok(lines.some((l) => l.startsWith("CA: keeping")));

  await createDevCertificates({ dir, renew: true });
  assert.notEqual((await cert(first.server.certFile)).serialNumber, server.serialNumber, "renewed");
  assert.equal((await cert(first.ca.certFile)).serialNumber, ca.serialNumber, "same CA");

  await createDevCertificates({ dir, force: true });
  const newCa = await cert(first.ca.certFile);
  assert.notEqual(newCa.serialNumber, ca.serialNumber);
  assert.ok((await cert(first.client.certFile)).verify(newCa.publicKey), "leaves re-issued by the new CA");
});

test("identityFromCertificate prefers our SPIFFE ID, else the common name; foreign trust domains are ignored", () => {
  const base = { subject: { CN: "marketplace" }, serialNumber: "01" } as const;
  const peer = (subjectaltname: string | undefined) =>
    ({ ...base, subjectaltname }) as unknown as Parameters<typeof identityFromCertificate>[0];
  assert.equal(identityFromCertificate(peer("URI:spiffe://online-books/checkout"))?.name, "checkout");
  assert.equal(identityFromCertificate(peer("URI:spiffe://elsewhere/checkout"))?.name, "marketplace");
  assert.equal(identityFromCertificate(peer(undefined))?.name, "marketplace");
  // A quoted SAN cannot smuggle a second entry in.
  assert.equal(identityFromCertificate(peer('DNS:"a, URI:spiffe://online-books/admin"'))?.name, "marketplace");
});
