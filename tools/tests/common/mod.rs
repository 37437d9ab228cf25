//! Helpers shared by the tools' integration tests.

pub mod lab;
