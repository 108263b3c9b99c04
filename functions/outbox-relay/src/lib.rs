//! The outbox relay: every minute, sends the user events that the CRM API stored
//! but could not send (the queue was unreachable, or the function died between its write
//! and its send), then clears their pending marks. Events keep their ids, so a duplicate
//! send is harmless: the processor records each event id once.

pub mod config;
pub mod metrics;
pub mod relay;

pub use relay::{Relay, RelayReport};
