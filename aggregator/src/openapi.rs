//! `GET /v1/stats/openapi.json`: the statistics API and the old service's routes it
//! still answers (deprecated), as OpenAPI 3.1.
//!
//! Written by hand (`aggregator/api/openapi.json`): the documents are plain structs whose
//! fields README.md describes. The tests of crate::api and crate::old_api hold it to the
//! routes, the documents and the parameters' values.

/// The OpenAPI document.
pub const DOCUMENT: &str = include_str!("../api/openapi.json");
