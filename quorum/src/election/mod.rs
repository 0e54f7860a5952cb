//! Fast leader election on the election port: the wire format ([`wire`]), the sans-IO state
//! machine ([`fle`]) and the tokio shell that connects them to sockets ([`net`]).

pub mod fle;
pub mod net;
pub mod wire;

pub use fle::{Action, Election, FleConfig, Outcome, Vote};
pub use wire::{InitialMessage, Notification, ServerState};
