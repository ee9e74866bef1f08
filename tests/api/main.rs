//! End-to-end tests: the real gateway and the real sandbox on port 0, spoken to over HTTP.

mod caching;
mod connections;
mod graphql;
mod helpers;
mod limits;
mod mutations;
mod process;
mod queries;
mod readiness;
mod redis_budget;
mod redis_bus;
mod redis_seen;
mod redis_support;
mod replicas;
mod sandbox_auth;
mod sandbox_conversations;
mod sandbox_data;
mod sandbox_faults;
mod sandbox_messages;
mod sandbox_rules;
mod sandbox_support;
mod sandbox_webhooks;
mod schema;
mod subscriptions;
mod upstream_client;
mod ws_support;
