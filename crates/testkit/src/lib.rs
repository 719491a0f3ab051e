//! tokex-testkit
