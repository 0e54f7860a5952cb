//! The tokio shell of the election (in progress).
