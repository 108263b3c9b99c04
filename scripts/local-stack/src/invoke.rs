//! Invoking a function through `cargo lambda watch`, which implements Lambda's Invoke API
//! in front of its runtime API emulator.

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("could not reach cargo lambda watch: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("{function} failed ({status}): {body}")]
    Function {
        function: String,
        status: u16,
        body: String,
    },
}

#[derive(Debug, Clone)]
pub struct Lambda {
    http: reqwest::Client,
    base: String,
}

impl Lambda {
    pub fn new(base: &str) -> Self {
        Self {
            // The first invocation may wait for cargo lambda watch to compile the function.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(900))
                .build()
                .expect("a plain HTTP client builds"),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    pub async fn invoke(&self, function: &str, payload: &Value) -> Result<Value, InvokeError> {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.base);
        let response = self.http.post(url).json(payload).send().await?;
        let status = response.status();
        let failed = response.headers().contains_key("x-amz-function-error");
        let body = response.text().await?;
        if failed || !status.is_success() {
            return Err(InvokeError::Function {
                function: function.to_owned(),
                status: status.as_u16(),
                body,
            });
        }
        Ok(serde_json::from_str(&body).unwrap_or(Value::String(body)))
    }
}
