//! Trading calendars (placeholder module, filled by the products work).
