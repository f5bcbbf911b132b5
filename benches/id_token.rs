//! ID token validation against the bare signature check of the same token.
//!
//! `full/*`: `Client::verify_id_token`, all checks included (JWS parsing,
//! algorithm allow-list, key lookup in the warm cache, signature, `iss`,
//! `aud`, `exp`, `iat`, `nonce`, `sub`, `at_hash`).
//! `bare/*`: `aws-lc-rs` `verify_sig` on a key parsed in advance, with the
//! signature already decoded: the floor that full validation is held to
//! (target: full <= 1.25 x bare).
//! `access/*`: `Api::verify` on an RFC 9068 access token of the same
//! provider (JWS parsing, `typ`, algorithm, key lookup, signature, `iss`,
//! `aud`, `exp`, `iat`, `client_id`, `jti`, `sub`, the scopes), held to
//! the same target against `access_bare/*`, the bare check of its own
//! signature.
//!
//! Run: `cargo bench --all-features --bench id_token`

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{Criterion, criterion_group, criterion_main};
use oidc_login::testing::TestProvider;
use oidc_login::{AccessToken, Algorithm, Api, Client, ClientAuth, Config, IdToken, Nonce};
use serde_json::{Value, json};

struct Case {
    _provider: TestProvider,
    client: Client,
    token: IdToken,
    nonce: Nonce,
    access_token: AccessToken,
    key: ParsedPublicKey,
    api: Api,
    /// An RFC 9068 access token for `api`.
    bearer: String,
}

fn case(rt: &tokio::runtime::Runtime, alg: Algorithm) -> Case {
    rt.block_on(async {
        let provider = TestProvider::builder().algorithm(alg).start().await;
        let config = Config::builder(provider.issuer(), "test-client")
            .client_auth(ClientAuth::secret_basic("test-secret"))
            .redirect_uri("http://127.0.0.1:9/callback")
            .build()
            .unwrap();
        let client = Client::discover(config).await.unwrap();

        let access_token = "an-access-token-of-the-usual-length-0123456789abcdef";
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
        let at_hash = B64.encode(&digest.as_ref()[..16]);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        // A realistic Entra-like claim set.
        let claims = json!({
            "iss": provider.issuer(), "sub": "alice-sub-0001", "aud": "test-client", "azp": "test-client",
            "exp": now + 3600, "iat": now, "nbf": now, "auth_time": now, "nonce": "n-0123456789abcdef0123456789abcdef",
            "at_hash": at_hash, "preferred_username": "alice", "email": "alice@example.com", "email_verified": true,
            "name": "Alice Admin", "tid": "3c1a0f6e-0000-4000-8000-000000000001",
            "oid": "0d4b9c3e-2222-4a3b-9c55-000000000002",
            "groups": ["d48429bd-9f2a-47a2-a410-993f2a37876b", "7c2f0a4e-1111-4a3b-9c55-000000000001"]
        });
        let token = provider.sign_id_token(&claims);
        // An access token of the same size class: what an API gets.
        let bearer = provider.sign_access_token(&json!({
            "iss": provider.issuer(), "sub": "alice-sub-0001", "aud": "https://api.example",
            "client_id": "test-client", "jti": "3b0c4f7e-5555-4a3b-9c55-000000000003",
            "scope": "openid profile email reports.read", "exp": now + 3600, "iat": now,
            "nbf": now, "auth_time": now, "preferred_username": "alice",
            "tid": "3c1a0f6e-0000-4000-8000-000000000001",
            "groups": ["d48429bd-9f2a-47a2-a410-993f2a37876b", "7c2f0a4e-1111-4a3b-9c55-000000000001"]
        }));
        let api = Api::new(&client, ["https://api.example"]).unwrap();

        let jwks: Value = reqwest::get(provider.url("/jwks")).await.unwrap().json().await.unwrap();
        let jwk = &jwks["keys"][0];
        let field = |name: &str| B64.decode(jwk[name].as_str().unwrap()).unwrap();
        let key = match alg {
            Algorithm::RS256 => RsaPublicKeyComponents { n: field("n"), e: field("e") }
                .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                .unwrap(),
            Algorithm::ES256 => {
                let mut point = vec![4u8];
                point.extend(field("x"));
                point.extend(field("y"));
                ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).unwrap()
            }
            other => unreachable!("no bare bench for {other}"),
        };
        Case {
            _provider: provider,
            client,
            token: IdToken::new(token),
            nonce: Nonce::new("n-0123456789abcdef0123456789abcdef"),
            access_token: AccessToken::new(access_token),
            key,
            api,
            bearer,
        }
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("id_token");
    for alg in [Algorithm::RS256, Algorithm::ES256] {
        let case = case(&rt, alg);
        // Sanity: both paths accept the token before they are timed.
        rt.block_on(case.client.verify_id_token(
            &case.token,
            &case.nonce,
            Some(&case.access_token),
        ))
        .expect("the bench token validates");
        let raw = case.token.expose_secret();
        let (signing_input, signature_b64) = raw.rsplit_once('.').unwrap();
        let signature = B64.decode(signature_b64).unwrap();
        case.key
            .verify_sig(signing_input.as_bytes(), &signature)
            .expect("bare check passes");

        group.bench_function(format!("bare/{alg}"), |b| {
            b.iter(|| {
                case.key
                    .verify_sig(std::hint::black_box(signing_input.as_bytes()), &signature)
            })
        });
        group.bench_function(format!("full/{alg}"), |b| {
            b.to_async(&rt).iter(|| {
                case.client
                    .verify_id_token(&case.token, &case.nonce, Some(&case.access_token))
            })
        });

        rt.block_on(case.api.verify(&case.bearer))
            .expect("the bench access token validates");
        let (bearer_input, bearer_signature) = case.bearer.rsplit_once('.').unwrap();
        let bearer_signature = B64.decode(bearer_signature).unwrap();
        case.key
            .verify_sig(bearer_input.as_bytes(), &bearer_signature)
            .expect("bare check of the access token passes");
        group.bench_function(format!("access_bare/{alg}"), |b| {
            b.iter(|| {
                case.key.verify_sig(
                    std::hint::black_box(bearer_input.as_bytes()),
                    &bearer_signature,
                )
            })
        });
        group.bench_function(format!("access/{alg}"), |b| {
            b.to_async(&rt).iter(|| case.api.verify(&case.bearer))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
