//! zk-tools: `zkbench` (load generator and Java side-by-side report, in src/bin/zkbench/) and
//! the txn-log / snapshot dump tools.
