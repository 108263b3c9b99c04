//! The outbox guarantee end to end in process: the CRM API, the relay and the processor
//! against one MiniStack server, with the faults the relay exists for.
mod helpers;

mod delivery;
mod partial_failure;
mod race;
mod stream;
