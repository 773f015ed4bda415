// Creates the development CA and the certificates for mutual TLS between the Marketplace and
// Recommendations. Usage: npm run certs [-- --force] [-- --renew] [-- --namespace NS] [-- --dir DIR]
// Output goes to certs/ (gitignored) or $CERTS_DIR. See docs/security.md.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { createDevCertificates } from "@obfy/kit/dev";
import { DEFAULT_TRUST_DOMAIN } from "@obfy/kit/security";

const HELP = `Usage: npm run certs -- [options]

Creates (idempotently) a development CA and TLS certificates:
  <dir>/ca.pem                        CA certificate (give to every service)
  <dir>/ca/ca.key                     CA private key (keep apart; no service needs it)
  <dir>/recommendations.pem/.key      server certificate (DNS: recommendations, recommendations.<ns>.svc..., localhost, 127.0.0.1, ::1)
  <dir>/marketplace.pem/.key          client certificate (identity spiffe://<trust-domain>/marketplace, CN marketplace)

Options:
  --dir DIR            output folder (default $CERTS_DIR or ./certs)
  --namespace NS       Kubernetes namespace for the server's DNS names (default online-books)
  --trust-domain TD    SPIFFE trust domain of the identities (default ${DEFAULT_TRUST_DOMAIN})
  --renew              re-issue the service certificates even if still valid (try rotation)
  --force              replace the CA too (every old certificate stops being trusted)
  -h, --help           this text`;

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      dir: { type: "string" },
      namespace: { type: "string" },
      "trust-domain": { type: "string" },
      renew: { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
}
try {
  args = parse();
} catch (error) {
  console.error(`${(error as Error).message}\n\n${HELP}`);
  process.exit(2);
}
if (args.values.help) {
  console.log(HELP);
  process.exit(0);
}

const dir = resolve(args.values.dir ?? process.env.CERTS_DIR ?? "certs");
try {
  const certs = await createDevCertificates({
    dir,
    namespace: args.values.namespace,
    trustDomain: args.values["trust-domain"],
    force: args.values.force,
    renew: args.values.renew,
    log: (line) => console.log(line),
  });
  console.log(`
Run with mutual TLS:
  Recommendations: TLS_MODE=mtls TLS_CERT_FILE=${certs.server.certFile} TLS_KEY_FILE=${certs.server.keyFile} TLS_CA_FILE=${certs.ca.certFile}
  Marketplace:     TLS_MODE=mtls TLS_CERT_FILE=${certs.client.certFile} TLS_KEY_FILE=${certs.client.keyFile} TLS_CA_FILE=${certs.ca.certFile}`);
} catch (error) {
  console.error(`certs: ${(error as Error).message}`);
  process.exit(1);
}
