//! tokex-book
