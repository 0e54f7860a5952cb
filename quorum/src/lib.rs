//! zk-quorum: leader election and ZAB (broadcast, learner sync). Not implemented yet: the
//! standalone server and durability come first (see the issues).
