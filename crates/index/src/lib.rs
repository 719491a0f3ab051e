//! tokex-index
