//! Synchronous twins of the async clients (placeholder, filled below).
