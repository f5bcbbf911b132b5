// A real third-party OpenID provider for the interop test
// (`tests/interop_oidc_provider.rs`): panva's `oidc-provider`, configured
// like a strict production provider, with sign-in done by `login_hint`
// instead of a person.
//
//   npm ci --prefix tests/interop
//   node tests/interop/provider.mjs [PORT]
//
// Environment:
//   INTEROP_PORT          the port on 127.0.0.1 (default 0: a free one); argv[2] wins
//   INTEROP_REDIRECT_URI  the clients' redirect URI (default http://127.0.0.1:9/callback)
//
// Once listening it prints one JSON line on stdout:
//   {"issuer":"http://127.0.0.1:PORT","clients":[...]}
// and serves until killed. Everything else goes to stderr.
//
// Clients: one per token endpoint authentication method and ID token
// algorithm, `<method>-<alg>` (`basic-rs256`, `post-es256`, `none-ps256`...):
// `client_secret_basic`, `client_secret_post` (secret `<client id>-secret`),
// public clients (`none`), `client_secret_jwt` (`secretjwt-*`, secret
// `<client id>-secret-of-at-least-32-bytes`) and `private_key_jwt`
// (`pkjwt-*`), whose public keys come from the test fixtures
// (`tests/fixtures/keys/`): `rsa-2048.pem` for `pkjwt-rs256` and
// `pkjwt-ps256`, `ec-p256.pem` for `pkjwt-es256`, registered with `kid`
// `interop-client-key`. PKCE (S256) is required of every client.
//
// Users (`login_hint`): `alice` (groups: the demo group and `staff`) and
// `bob` (group `visitors`). Scope claims (`email`, `profile`, `groups`) go to
// userinfo only, as oidc-provider does by default (`conformIdTokenClaims`).
//
// Admin routes (loopback callers only):
//   POST /__rotate  new RSA and EC signing keys (new `kid`s), replacing the old
//                   ones in the JWKS; answers {"kids":[...]}
//   GET  /__stats   {"jwks_requests":N}: how many times the JWKS was fetched
//   POST /__groups  {"sub":"...","groups":[...]}: replaces a user's groups
//                   (what userinfo says from then on)
//
// An API: the resource `https://api.interop.example` (RFC 8707 resource
// indicators): access tokens asked for it are JWTs (RFC 9068, RS256) with
// the scope `reports.read`. The daemon client `daemon` (secret
// `daemon-secret`, client_secret_basic) may use the client_credentials
// grant. Token revocation (RFC 7009) is on.
//
// Authentication levels (`acr`): `urn:interop:pwd` and `urn:interop:mfa`
// (`acr_values_supported`). The sign-in is made at the first level the
// request's `acr_values` names, `pwd` without one; bob cannot do `mfa` and
// is always signed in at `pwd` (`acr_values` is a voluntary claim: the
// provider answers with what it could do).
//
// Refresh tokens: every client may use the refresh_token grant; as
// oidc-provider does, one is issued only when the scope has
// `offline_access` and the request `prompt=consent`.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const REDIRECT_URI = process.env.INTEROP_REDIRECT_URI || 'http://127.0.0.1:9/callback';
const PORT = Number(process.argv[2] ?? process.env.INTEROP_PORT ?? 0);
const DEMO_GROUP = 'd48429bd-9f2a-47a2-a410-993f2a37876b';
const API_RESOURCE = 'https://api.interop.example';
const ACR_VALUES = ['urn:interop:pwd', 'urn:interop:mfa'];

const USERS = new Map(
  [
    {
      sub: 'alice-0001',
      preferred_username: 'alice',
      name: 'Alice Example',
      email: 'alice@example.com',
      email_verified: true,
      groups: [DEMO_GROUP, 'staff'],
    },
    {
      sub: 'bob-0002',
      preferred_username: 'bob',
      name: 'Bob Example',
      email: 'bob@example.com',
      email_verified: false,
      groups: ['visitors'],
    },
  ].map((user) => [user.sub, user]),
);

function userByHint(hint) {
  for (const user of USERS.values()) {
    if (hint && (user.preferred_username === hint || user.email === hint)) {
      return user;
    }
  }
  return undefined;
}

const METHODS = {
  basic: 'client_secret_basic',
  post: 'client_secret_post',
  none: 'none',
  secretjwt: 'client_secret_jwt',
  pkjwt: 'private_key_jwt',
};
const ALGORITHMS = ['RS256', 'ES256', 'PS256'];
const CLIENT_KEY_ID = 'interop-client-key';

// The public half of a fixture key, as a JWK.
function clientJwk(file) {
  const pem = fs.readFileSync(new URL(`../fixtures/keys/${file}`, import.meta.url));
  const jwk = crypto.createPublicKey(pem).export({ format: 'jwk' });
  return { ...jwk, kid: CLIENT_KEY_ID, use: 'sig' };
}

function credentials(method, clientId, alg) {
  switch (method) {
    case 'none':
      return {};
    case 'client_secret_jwt':
      return { client_secret: `${clientId}-secret-of-at-least-32-bytes` };
    case 'private_key_jwt':
      return { jwks: { keys: [clientJwk(alg === 'ES256' ? 'ec-p256.pem' : 'rsa-2048.pem')] } };
    default:
      return { client_secret: `${clientId}-secret` };
  }
}

const CLIENTS = Object.entries(METHODS).flatMap(([short, method]) =>
  ALGORITHMS.map((alg) => {
    const clientId = `${short}-${alg.toLowerCase()}`;
    return {
      client_id: clientId,
      ...credentials(method, clientId, alg),
      token_endpoint_auth_method: method,
      id_token_signed_response_alg: alg,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    };
  }),
).concat([
  {
    client_id: 'daemon',
    client_secret: 'daemon-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  },
]);

function signingKeys() {
  const kid = (prefix) => `${prefix}-${crypto.randomBytes(6).toString('hex')}`;
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // No `alg` on the RSA key: oidc-provider signs RS256 and PS256 with it.
  return [
    { ...rsa.privateKey.export({ format: 'jwk' }), kid: kid('rsa'), use: 'sig' },
    { ...ec.privateKey.export({ format: 'jwk' }), kid: kid('ec'), use: 'sig' },
  ];
}

const COOKIE_KEYS = [crypto.randomBytes(32).toString('base64url')];

function configuration(keys) {
  return {
    clients: structuredClone(CLIENTS),
    jwks: { keys: structuredClone(keys) },
    cookies: { keys: COOKIE_KEYS },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    acrValues: ACR_VALUES,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // No resource named: an opaque token for userinfo, as before.
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo(_ctx, resource) {
          if (resource !== API_RESOURCE) {
            throw new errors.InvalidTarget();
          }
          return {
            scope: 'reports.read',
            audience: API_RESOURCE,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    async findAccount(_ctx, sub) {
      const user = USERS.get(sub);
      if (!user) {
        return undefined;
      }
      return {
        accountId: sub,
        async claims() {
          return { ...user };
        },
      };
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}

function makeProvider(issuer, keys) {
  const provider = new Provider(issuer, configuration(keys));
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error']) {
    provider.on(event, (_ctx, error) => {
      console.error(`oidc-provider ${event}: ${error?.name} ${error?.message} ${error?.error_description ?? ''}`);
    });
  }
  return provider;
}

// The interaction: no page, no person. The user named by `login_hint` signs
// in, and consents to every requested scope.
async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { params } = details;
  const user = userByHint(params.login_hint);
  if (!user) {
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: `no user named by login_hint \`${params.login_hint ?? ''}\`` },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  const asked = (params.acr_values ?? '').split(' ').filter((acr) => ACR_VALUES.includes(acr));
  const acr = user.preferred_username === 'bob' ? 'urn:interop:pwd' : (asked[0] ?? 'urn:interop:pwd');
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: user.sub, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: user.sub, acr }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function isLoopback(address) {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

let provider;
let handler;
let keys = signingKeys();
let jwksRequests = 0;

const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, 'http://127.0.0.1');
  try {
    if (pathname.startsWith('/__')) {
      if (!isLoopback(req.socket.remoteAddress)) {
        json(res, 403, { error: 'admin routes answer loopback callers only' });
      } else if (pathname === '/__rotate' && req.method === 'POST') {
        // oidc-provider reads its keys once, at construction: a rotation is
        // a new instance with the same issuer, clients and (module-wide)
        // in-memory storage, and fresh keys.
        keys = signingKeys();
        provider = makeProvider(provider.issuer, keys);
        handler = provider.callback();
        json(res, 200, { kids: keys.map((k) => k.kid) });
      } else if (pathname === '/__groups' && req.method === 'POST') {
        let body = '';
        for await (const chunk of req) {
          body += chunk;
        }
        const { sub, groups } = JSON.parse(body);
        const user = USERS.get(sub);
        if (!user || !Array.isArray(groups)) {
          json(res, 400, { error: 'give an existing `sub` and `groups` as an array' });
        } else {
          user.groups = groups.map(String);
          json(res, 200, { sub, groups: user.groups });
        }
      } else if (pathname === '/__stats' && req.method === 'GET') {
        json(res, 200, { jwks_requests: jwksRequests });
      } else {
        json(res, 404, { error: `no admin route ${req.method} ${pathname}` });
      }
      return;
    }
    if (pathname.startsWith('/interaction/') && req.method === 'GET') {
      await interaction(provider, req, res);
      return;
    }
    if (pathname === '/jwks') {
      jwksRequests += 1;
    }
    handler(req, res);
  } catch (error) {
    console.error(`provider.mjs: ${req.method} ${pathname}: ${error?.stack ?? error}`);
    if (!res.headersSent) {
      json(res, 500, { error: 'server_error', error_description: String(error?.message ?? error) });
    }
  }
});

server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  provider = makeProvider(issuer, keys);
  handler = provider.callback();
  process.stdout.write(
    `${JSON.stringify({ issuer, redirect_uri: REDIRECT_URI, clients: CLIENTS.map((c) => c.client_id) })}\n`,
  );
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
