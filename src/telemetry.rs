//! Tracing subscriber set-up: pretty lines for people at a terminal, JSON for log pipelines, and
//! optionally every span exported to an OpenTelemetry collector over OTLP/HTTP (protobuf), in
//! builds with the `otel` feature (on by default).

use std::io::IsTerminal;

#[cfg(feature = "otel")]
use opentelemetry::trace::TracerProvider as _;
#[cfg(feature = "otel")]
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
#[cfg(feature = "otel")]
use opentelemetry_sdk::Resource;
#[cfg(feature = "otel")]
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};
use url::Url;

use crate::cli::LogFormat;
#[cfg(feature = "otel")]
use crate::redact;

/// Filter used when `RUST_LOG` is unset: our own events (the gateway's and the embedded sandbox's)
/// at `info`, libraries only at `warn`.
const DEFAULT_FILTER: &str = "warn,heymarket_gateway=info,heymarket_sandbox=info";

#[cfg(feature = "otel")]
const SERVICE_NAME: &str = "heymarket-gateway";

/// Keeps span export running; dropping it sends what is still buffered.
#[must_use = "dropping the guard stops span export"]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    tracer_provider: Option<SdkTracerProvider>,
}

#[cfg(feature = "otel")]
impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("warning: spans not exported at shutdown: {error}");
            }
        }
    }
}

/// Why span export could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("--otlp-endpoint {0} cannot take a path")]
    EndpointWithoutPath(Url),
    #[cfg(feature = "otel")]
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[cfg(not(feature = "otel"))]
    #[error("--otlp-endpoint needs a build with the `otel` feature, and this one has none")]
    ExportNotBuiltIn,
}

/// Installs the global subscriber once (later calls, as in tests, keep the first), keeping the
/// events `log_filter` lets through (`RUST_LOG`'s syntax; the default filter when unset or
/// invalid); with `otlp_endpoint`, spans are also exported there.
pub fn init(
    format: LogFormat,
    log_filter: Option<&str>,
    otlp_endpoint: Option<&Url>,
) -> Result<Telemetry, TelemetryError> {
    let filter = log_filter
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = if json {
        lines
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed()
    } else {
        lines.compact().boxed()
    };
    let registry = tracing_subscriber::registry().with(filter).with(lines);
    #[cfg(feature = "otel")]
    {
        let tracer_provider = otlp_endpoint.map(tracer_provider).transpose()?;
        let spans = tracer_provider.as_ref().map(|provider| {
            tracing_opentelemetry::layer().with_tracer(provider.tracer(SERVICE_NAME))
        });
        // `try_init` fails only when a subscriber is already installed, which is fine to keep.
        let _ = registry.with(spans).try_init();
        Ok(Telemetry { tracer_provider })
    }
    #[cfg(not(feature = "otel"))]
    {
        if otlp_endpoint.is_some() {
            return Err(TelemetryError::ExportNotBuiltIn);
        }
        let _ = registry.try_init();
        Ok(Telemetry {})
    }
}

/// Spans batched and sent from the SDK's own thread, with a blocking HTTP client, so export
/// never competes with request handling on the runtime.
#[cfg(feature = "otel")]
fn tracer_provider(endpoint: &Url) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url(endpoint)?.as_str())
        .build()?;
    let resource = Resource::builder().with_service_name(SERVICE_NAME).build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The collector's trace endpoint: the configured URL is a base, as `OTEL_EXPORTER_OTLP_ENDPOINT`
/// is in the OpenTelemetry specification, and `v1/traces` is appended to its path.
#[cfg(feature = "otel")]
fn traces_url(endpoint: &Url) -> Result<Url, TelemetryError> {
    let mut url = endpoint.clone();
    url.path_segments_mut()
        .map_err(|()| TelemetryError::EndpointWithoutPath(redact::url(endpoint)))?
        .pop_if_empty()
        .extend(["v1", "traces"]);
    Ok(url)
}

#[cfg(all(test, feature = "otel"))]
mod tests {
    use super::*;

    #[test]
    fn the_trace_path_is_appended_to_the_base() {
        for (base, expected) in [
            ("http://collector:4318", "http://collector:4318/v1/traces"),
            ("http://collector:4318/", "http://collector:4318/v1/traces"),
            (
                "https://otel.example/ingest/",
                "https://otel.example/ingest/v1/traces",
            ),
        ] {
            let url = traces_url(&base.parse().unwrap()).unwrap();
            assert_eq!(url.as_str(), expected);
        }
    }
}
