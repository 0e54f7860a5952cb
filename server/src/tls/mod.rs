//! TLS for the client and quorum ports: key and trust material from the stores Java reads
//! ([`keystore`]), turned into rustls configurations.
//!
//! Everything here is loading and building; the ports that speak TLS live with their
//! connections (`net` for clients, the quorum crate's connections for peers).

pub mod config;
pub mod keystore;
pub mod settings;
#[cfg(test)]
pub(crate) mod test_certs;
pub mod x509;

pub use settings::{ClientAuth, TlsSettings};
