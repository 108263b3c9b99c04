//! The gateway's IAM authorization, proven with IAM users of the emulator's account (the
//! account root's key is accepted with any secret, so it proves nothing about signatures):
//! a principal without `execute-api:Invoke` is refused, a wrong secret is refused, and a
//! policy that allows the CRM routes only lets a CRM client in and keeps it off
//! `POST /events`. The policies are the ones docs/deploying.md ("Calling the IAM-protected
//! endpoints") gives CRM clients and event producers. And a signed request the API has no
//! route for reaches a function, which says what is wrong, while an unsigned one is still
//! refused by the gateway.

use std::collections::BTreeSet;

use aws_credential_types::Credentials;
use reqwest::{Method, Url};
use serde_json::json;

use ops::LocalUrlForm;
use stack::SignedClient;

use crate::support::{envelope, unique_email};
use crate::world::{World, REGION};
use stack::smoke::{expect, header};

/// An IAM user with an access key and, when given, one inline policy.
struct User {
    name: String,
    key: String,
    secret: String,
}

impl User {
    async fn create(world: &World, tag: &str, policy: Option<serde_json::Value>) -> Result<Self, String> {
        let iam = world.iam();
        let name = format!("e2e-{tag}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        iam.create_user()
            .user_name(&name)
            .send()
            .await
            .map_err(|e| format!("create IAM user {name}: {e:?}"))?;
        if let Some(policy) = policy {
            iam.put_user_policy()
                .user_name(&name)
                .policy_name("invoke")
                .policy_document(policy.to_string())
                .send()
                .await
                .map_err(|e| format!("put {name}'s policy: {e:?}"))?;
        }
        let key = iam
            .create_access_key()
            .user_name(&name)
            .send()
            .await
            .map_err(|e| format!("create {name}'s access key: {e:?}"))?;
        let key = key.access_key().ok_or("no access key in the answer")?;
        Ok(Self {
            name,
            key: key.access_key_id().to_owned(),
            secret: key.secret_access_key().to_owned(),
        })
    }

    fn client(&self, world: &World, secret: &str) -> SignedClient {
        world.signed_client(Credentials::new(&self.key, secret, None, None, "e2e-iam-user"))
    }
}

/// `execute-api:Invoke` on these routes of the deployed API's `prod` stage.
pub fn invoke_policy(world: &World, routes: &[&str]) -> Result<serde_json::Value, String> {
    let api_id = world
        .outputs
        .crm_api_url
        .host_str()
        .and_then(|h| h.split_once(".execute-api."))
        .map(|(id, _)| id.to_owned())
        .ok_or("CrmApiUrl is not an API Gateway URL")?;
    let account = world.account()?;
    let resources: Vec<String> = routes
        .iter()
        .map(|route| format!("arn:aws:execute-api:{REGION}:{account}:{api_id}/prod/{route}"))
        .collect();
    Ok(json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resources}]
    }))
}

async fn status(
    client: &SignedClient,
    method: Method,
    url: &Url,
    body: Option<&serde_json::Value>,
) -> Result<u16, String> {
    Ok(client.send(method, url, body).await?.status().as_u16())
}

pub async fn iam_decides(world: &World) -> Result<(), String> {
    let api = world.api(LocalUrlForm::Host);
    let new_user = json!({"name": "Gateway Check", "email": unique_email("gateway")});

    let stranger = User::create(world, "no-policy", None).await?;
    for (method, url, body) in [
        (Method::GET, &api.crm_api_url, None),
        (Method::POST, &api.crm_api_url, Some(&new_user)),
    ] {
        let got = status(&stranger.client(world, &stranger.secret), method.clone(), url, body).await?;
        expect(got == 403, || {
            format!(
                "{method} {url} signed by {} (no policy) answered {got}, not 403",
                stranger.name
            )
        })?;
    }

    let crm = CRM_CLIENT_ROUTES;
    let crm_client = User::create(world, "crm-client", Some(invoke_policy(world, &crm)?)).await?;
    let forged = crm_client.client(world, "not-the-secret");
    let got = status(&forged, Method::GET, &api.crm_api_url, None).await?;
    expect(got == 403, || {
        format!(
            "GET /api/crm signed with {}'s key and a wrong secret answered {got}, not 403",
            crm_client.name
        )
    })?;

    let client = crm_client.client(world, &crm_client.secret);
    let created = client.send(Method::POST, &api.crm_api_url, Some(&new_user)).await?;
    let (created_status, body) = stack::smoke::read(created).await?;
    expect(created_status == 201, || {
        format!("POST /api/crm by a CRM client answered {created_status}: {body}")
    })?;
    let id = body["id"].as_str().ok_or_else(|| format!("no id in {body}"))?;
    let one = api.crm_api_url.join(&format!("crm/{id}")).map_err(|e| e.to_string())?;
    for (method, url) in [(Method::GET, &api.crm_api_url), (Method::GET, &one)] {
        let got = status(&client, method.clone(), url, None).await?;
        expect(got == 200, || format!("{method} {url} by a CRM client answered {got}"))?;
    }
    let event = envelope(&uuid::Uuid::new_v4().to_string(), "user-gateway");
    let got = status(&client, Method::POST, &api.events_url, Some(&event)).await?;
    expect(got == 403, || {
        format!("POST /events by a CRM client (CRM routes only) answered {got}, not 403")
    })?;

    let producer = User::create(world, "producer", Some(invoke_policy(world, &PRODUCER_ROUTES)?)).await?;
    let producer = producer.client(world, &producer.secret);
    let got = status(&producer, Method::POST, &api.events_url, Some(&event)).await?;
    expect(got == 200, || {
        format!("POST /events by an event producer answered {got}")
    })?;
    let got = status(&producer, Method::GET, &api.crm_api_url, None).await?;
    expect(got == 403, || {
        format!("GET /api/crm by an event producer (POST /events only) answered {got}, not 403")
    })
}

/// The routes of a CRM client's policy (docs/deploying.md): every method on the users.
pub const CRM_CLIENT_ROUTES: [&str; 2] = ["*/api/crm", "*/api/crm/*"];
/// The route of an event producer's policy (docs/deploying.md).
pub const PRODUCER_ROUTES: [&str; 1] = ["POST/events"];

/// What crm-api and erp-processor answer every error with.
const PROBLEM_JSON: &str = "application/problem+json";

/// API Gateway's own answer to a route it has no method for is the 401 of a missing
/// signature; the API has a method for every route (ANY on each resource, `{proxy+}` on the
/// root: cdk/lib/rest-api.ts), so a signed request reaches a function instead: an unknown
/// path is crm-api's 404, a known path's other method its function's 405 with `Allow`.
pub async fn unknown_routes_reach_the_functions(world: &World) -> Result<(), String> {
    let api = world.api(LocalUrlForm::Host);
    let join = |reference: &str| api.crm_api_url.join(reference).map_err(|e| e.to_string());
    let unknown = join("../no-such-path")?;
    // Deeper than `/api/crm/{id}`, which has no children: only `{proxy+}` matches it.
    let too_deep = join("crm/some-id/extra")?;
    for url in [&unknown, &too_deep] {
        not_found(world, url).await?;
    }
    method_not_allowed(world, &api.crm_api_url, &["GET", "POST"]).await?;
    // erp-processor's own 405: a fallback to `{proxy+}` would have sent it to crm-api.
    method_not_allowed(world, &api.events_url, &["POST"]).await?;
    let unsigned = world
        .client
        .request(Method::GET, &unknown, None, Vec::new(), false)
        .await?;
    let got = unsigned.status().as_u16();
    expect(got == 401, || {
        format!("unsigned GET {unknown} answered {got}, not the gateway's 401")
    })
}

/// A signed `GET url` answers 404 with a problem.
async fn not_found(world: &World, url: &Url) -> Result<(), String> {
    let response = world.client.send(Method::GET, url, None).await?;
    let got = response.status().as_u16();
    let kind = header(&response, "content-type").unwrap_or_default();
    expect(got == 404 && kind.starts_with(PROBLEM_JSON), || {
        format!("signed GET {url} answered {got} ({kind:?}), not 404 {PROBLEM_JSON}")
    })
}

/// A signed `PUT url` answers 405 with `Allow` listing exactly `allow`.
async fn method_not_allowed(world: &World, url: &Url, allow: &[&str]) -> Result<(), String> {
    let response = world.client.send(Method::PUT, url, None).await?;
    let got = response.status().as_u16();
    let allowed = header(&response, "allow").unwrap_or_default();
    let methods: BTreeSet<&str> = allowed.split(',').map(str::trim).collect();
    expect(got == 405 && methods == allow.iter().copied().collect(), || {
        format!("signed PUT {url} answered {got}, Allow {allowed:?}: not 405 with Allow {allow:?}")
    })
}
