//! tokex-bench
