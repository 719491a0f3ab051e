//! Product definitions (placeholder module, filled by the products work).
