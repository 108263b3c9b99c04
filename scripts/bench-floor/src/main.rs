//! The floor of `scripts/bench`: the least a `lambda_runtime` function does (start the
//! runtime, echo the event), so what no Rust function can beat on this machine.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
