//! compat-tests: drive real clients against both the Java 3.8 server and zkserver.
//!
//! - [`server`]: start either server on a free port with a temporary dataDir.
//! - [`client`]: a raw, blocking client-protocol connection that keeps every frame.
//! - [`ports`]: ports for servers under test, below the ephemeral range and reserved.
//! - [`differential`]: the differential runner (same seeded random operations against both
//!   servers, normalised replies and watch events compared). Binary: `differential`.

pub mod client;
pub mod differential;
pub mod ports;
pub mod rng;
pub mod server;
