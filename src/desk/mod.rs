//! Agent desk: screen pops, intake editing and the per-agent WebSocket feed (docs/protocol.md).

pub mod client;
pub mod follow_ups;
pub mod frames;
pub mod hub;
mod hub_task;
pub mod intakes;
pub mod latency;
pub mod pop;
