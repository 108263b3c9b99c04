//! `stack`: the developer tools for a deployed stack, one subcommand each (the operator's
//! commands, redrive, backfill and metrics, are the `ops` binary's).
//!
//! ```text
//! stack e2e [WORD…]                 the end-to-end suite (starts scripts/dev itself); with
//!                                   WORDs, only the tests whose name contains one of them
//! stack smoke BASE_URL              the original's flow against …/prod (AWS or local)
//! stack smoke --outputs FILE        the same, at the URLs of `cdk deploy --outputs-file`
//! stack hello OUTPUTS               the local stack's copy-paste commands
//! stack local-context               the stack and `-c` context scripts/dev deploys with,
//!                                   one argument per line
//! stack emulator-ready URL PID      waits until the emulator (process PID) answers at URL
//! stack local-cert DIR              the emulator's TLS certificate and key, into DIR
//! stack watch-env OUTPUTS           `cargo lambda watch`'s environment, for the deployed
//!                                   local tables and queue
//! ```
//! With `AWS_ENDPOINT_URL` set (the local emulator), the outputs' API URLs are rewritten to
//! the emulator's: `https://API_ID.execute-api.localhost:PORT/prod/…` (in the emulator's
//! scheme).

mod dev_context;
mod emulator_ready;
mod hello;

use std::path::PathBuf;
use std::process::ExitCode;

use ops::outputs_for_this_environment;
use stack::{smoke, SignedClient};

const USAGE: &str =
    "usage: stack e2e [WORD…] | stack smoke (BASE_URL | --outputs FILE) | stack hello OUTPUTS | stack local-context | stack emulator-ready URL PID | stack local-cert DIR | stack watch-env OUTPUTS";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["e2e", words @ ..] => return stack::e2e::main(words).await,
        ["smoke", "--outputs", file] => match outputs_for_this_environment(&PathBuf::from(file)) {
            Ok(outputs) => {
                let endpoints = smoke::Endpoints {
                    users: outputs.crm_api_url,
                    events: outputs.events_url,
                };
                smoke_at(&endpoints).await
            }
            Err(e) => Err(e),
        },
        ["smoke", base] => match smoke::Endpoints::under(base) {
            Ok(endpoints) => smoke_at(&endpoints).await,
            Err(e) => Err(e),
        },
        ["local-context"] => {
            let args = dev_context::dev_context(std::env::consts::ARCH, |k| std::env::var(k).ok());
            println!("{}", args.join("\n"));
            Ok(())
        }
        ["emulator-ready", url, pid] => emulator_ready::wait(url, pid).await,
        ["local-cert", dir] => stack::local_tls::write(std::path::Path::new(dir)),
        ["hello", file] => outputs_for_this_environment(&PathBuf::from(file)).map(|o| print!("{}", hello::text(&o))),
        ["watch-env", file] => {
            outputs_for_this_environment(&PathBuf::from(file)).map(|o| print!("{}", hello::watch_env(&o)))
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stack: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn smoke_at(endpoints: &smoke::Endpoints) -> Result<(), String> {
    let client = SignedClient::from_env().await?;
    smoke::run(&client, endpoints).await
}
