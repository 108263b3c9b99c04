//! The outbox relay: publishes the user events waiting in the `Users` table's outbox, then
//! clears their pending marks. Triggered by the table's stream, it delivers what each write
//! left at once (when crm-api leaves delivery to the stream); every minute, it sends what is
//! still pending past a grace period (the topic was unreachable, or a writer died between
//! its write and its publish). Events keep their ids, so a duplicate publish is harmless:
//! the processor records each event id once.

pub mod config;
pub mod metrics;
pub mod relay;
pub mod stream;

pub use relay::{Relay, RelayReport};
