//! The outbox relay: every minute, publishes the user events that the CRM API stored
//! but could not publish (the topic was unreachable, or the function died between its write
//! and its publish), then clears their pending marks. Events keep their ids, so a duplicate
//! publish is harmless: the processor records each event id once.

pub mod config;
pub mod metrics;
pub mod relay;

pub use relay::{Relay, RelayReport};
