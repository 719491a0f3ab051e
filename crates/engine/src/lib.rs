//! tokex-engine
