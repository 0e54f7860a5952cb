//! Shared pieces of the ZAB interop tests: a Java ensemble launcher, a minimal client, and a
//! `LearnerDb` over the server crate's tree and persistence.
#![allow(dead_code)]

pub mod client;
pub mod db;
pub mod java;
