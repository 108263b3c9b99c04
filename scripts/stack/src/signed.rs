//! HTTP requests signed with SigV4 for `execute-api`, as any IAM-authorized client of the
//! REST API signs them. Credentials come from the SDK's default chain, so the same code
//! calls AWS (a profile, SSO, OIDC in CI) and the local emulator (dummy keys).

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use reqwest::{Method, Response, Url};

/// A client that signs every request it sends, unless told not to.
#[derive(Clone)]
pub struct SignedClient {
    http: reqwest::Client,
    credentials: Credentials,
    region: String,
}

impl SignedClient {
    /// Credentials and region from the environment (`AWS_*`, profiles, SSO, ...).
    pub async fn from_env() -> Result<Self, String> {
        let aws = ops::trust::sdk_config().await;
        let provider = aws
            .credentials_provider()
            .ok_or("no AWS credentials: configure a profile or AWS_ACCESS_KEY_ID")?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| format!("AWS credentials: {e}"))?;
        let region = aws.region().map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
        Ok(Self::new(credentials, region))
    }

    pub fn new(credentials: Credentials, region: String) -> Self {
        Self::trusting(credentials, region, crate::trust::http_client())
    }

    /// A client on `http`, a builder that trusts what the endpoints need (`crate::trust`).
    pub fn trusting(credentials: Credentials, region: String, http: reqwest::ClientBuilder) -> Self {
        // `*.localhost` names loopback (RFC 6761), but the system resolver may not know it.
        let http = http
            // A signature is for one URL; and a redirect is an answer to show, not to follow.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .dns_resolver(std::sync::Arc::new(LoopbackLocalhost))
            .build()
            .expect("a default TLS client builds");
        Self {
            http,
            credentials,
            region,
        }
    }

    /// Sends a signed request; `body` is JSON when given.
    pub async fn send(&self, method: Method, url: &Url, body: Option<&serde_json::Value>) -> Result<Response, String> {
        self.request(method, url, body, Vec::new(), true).await
    }

    /// Sends a request, signed or not, with extra headers.
    pub async fn request(
        &self,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        headers: Vec<(String, String)>,
        signed: bool,
    ) -> Result<Response, String> {
        let mut headers = headers;
        let bytes = body.map(|b| b.to_string().into_bytes());
        if body.is_some() {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        self.request_bytes(method, url, headers, bytes, signed).await
    }

    /// Sends a request with any body (`None`: none at all), signed or not.
    pub async fn request_bytes(
        &self,
        method: Method,
        url: &Url,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        signed: bool,
    ) -> Result<Response, String> {
        let mut headers = headers;
        if signed {
            let payload = body.as_deref().unwrap_or_default();
            headers.extend(self.signature(&method, url, &headers, payload)?);
        }
        let mut request = self.http.request(method, url.clone());
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        if let Some(bytes) = body {
            request = request.body(bytes);
        }
        request.send().await.map_err(|e| format!("{url}: {e}"))
    }

    /// The headers SigV4 adds: `authorization`, `x-amz-date` and, with temporary
    /// credentials, `x-amz-security-token`.
    fn signature(
        &self,
        method: &Method,
        url: &Url,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("signing parameters: {e}"))?
            .into();
        // `host` is signed too: the signer takes it from the URL.
        let signed_headers = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        let signable = SignableRequest::new(method.as_str(), url.as_str(), signed_headers, SignableBody::Bytes(body))
            .map_err(|e| format!("cannot sign {url}: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("cannot sign {url}: {e}"))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect())
    }
}

/// Resolves `localhost` and `*.localhost` to 127.0.0.1 and every other name as the system
/// does.
struct LoopbackLocalhost;

impl reqwest::dns::Resolve for LoopbackLocalhost {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let loopback: Vec<std::net::SocketAddr> = vec![([127, 0, 0, 1], 0).into()];
                return Ok(Box::new(loopback.into_iter()) as reqwest::dns::Addrs);
            }
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(Box::new(addrs.collect::<Vec<_>>().into_iter()) as reqwest::dns::Addrs)
        })
    }
}
