//! Helpers shared by the integration tests of every ledger backend.

pub mod contract;
