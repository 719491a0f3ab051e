//! REST and WebSocket API (being written).
