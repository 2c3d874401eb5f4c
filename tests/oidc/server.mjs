// node oidc-provider as a real third-party authorization server for cxoauth's tests
// (started by tests/support/oidc.rs on 127.0.0.1). Configuration in OIDC_TEST_CONFIG (JSON):
//   { "public_url": optional issuer base (an mTLS proxy in front), else http://127.0.0.1:<port>,
//     "clients": [{ "client_id", "token_endpoint_auth_method",
//                   "key_files": [[kid, PEM private-or-public key file], ...],  (private_key_jwt)
//                   "subject_dn": "CN=..." }] }                                (tls_client_auth)
// Prints "READY <port>" on stdout once listening (port 0: the system picks it).
// For tls_client_auth the certificate comes from a TLS-terminating proxy (nginx) in the
// X-SSL-Client-Cert header ($ssl_client_escaped_cert) with X-SSL-Client-Verify.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const conf = JSON.parse(process.env.OIDC_TEST_CONFIG || '{}');
const server = http.createServer();
server.listen(Number(process.env.OIDC_TEST_PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = conf.public_url || `http://127.0.0.1:${port}`;

  const clients = (conf.clients || []).map((c) => {
    const meta = {
      client_id: c.client_id,
      token_endpoint_auth_method: c.token_endpoint_auth_method,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    };
    if (c.key_files) {
      meta.jwks = {
        keys: c.key_files.map(([kid, file]) => ({
          ...crypto.createPublicKey(fs.readFileSync(file)).export({ format: 'jwk' }),
          kid,
        })),
      };
    }
    if (c.subject_dn) meta.tls_client_auth_subject_dn = c.subject_dn;
    if (c.client_secret) meta.client_secret = c.client_secret;
    return meta;
  });

  const certificate = (ctx) => {
    const h = ctx.get('x-ssl-client-cert');
    return h ? decodeURIComponent(h) : undefined;
  };

  const provider = new Provider(issuer, {
    clients,
    clientAuthMethods: ['private_key_jwt', 'tls_client_auth', 'client_secret_basic', 'client_secret_post'],
    enabledJWA: { clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256'] },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      mTLS: {
        enabled: true,
        tlsClientAuth: true,
        getCertificate: certificate,
        certificateAuthorized: (ctx) => ctx.get('x-ssl-client-verify') === 'SUCCESS',
        certificateSubjectMatches: (ctx, property, expected) => {
          if (property !== 'tls_client_auth_subject_dn') return false;
          const pem = certificate(ctx);
          if (!pem) return false;
          const subject = new crypto.X509Certificate(pem).subject.split('\n').join(',');
          return subject === expected;
        },
      },
    },
  });
  provider.proxy = true; // X-Forwarded-* from the TLS-terminating proxy
  // every client-authentication failure on stderr (the test shows it when a fetch fails)
  provider.on('grant.error', (ctx, err) => process.stderr.write(`grant.error ${err.message}: ${err.error_detail || err.error_description || ''}\n`));
  server.on('request', provider.callback());
  process.stdout.write(`READY ${port}\n`);
});
