//! End-to-end tests: the real gateway and the real sandbox on port 0, spoken to over HTTP.

mod graphql;
mod helpers;
mod process;
mod schema;
