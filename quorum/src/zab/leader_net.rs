//! The tokio shell of the leader (in progress).
