//! The tracer provider: OTLP exporter, batch processor, resource, sampler; and the
//! one-warning rule for a collector that cannot be reached.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};

use crate::config::{Protocol, Sampler, TelemetryConfig, WarningSink};
use crate::error::OtelError;

/// Reports the first export problem and stays quiet after it: a collector that is down
/// fails every batch, and one line is enough.
pub(crate) struct Warner {
    warned: AtomicBool,
    endpoint: String,
    sink: WarningSink,
}

impl Warner {
    fn new(endpoint: &str, sink: WarningSink) -> Self {
        Self {
            warned: AtomicBool::new(false),
            endpoint: without_userinfo(endpoint),
            sink,
        }
    }

    pub(crate) fn warn(&self, problem: &str) {
        if !self.warned.swap(true, Ordering::SeqCst) {
            (self.sink)(&format!(
                "warning: runwait cannot export traces to {}: {problem}; the workflow goes on without them",
                self.endpoint
            ));
        }
    }
}

impl std::fmt::Debug for Warner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warner")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// An endpoint for display: a `user:password@` in it is dropped.
fn without_userinfo(endpoint: &str) -> String {
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return endpoint.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => endpoint.to_owned(),
    }
}

/// The OTLP exporter, with its first failure reported through the [`Warner`].
#[derive(Debug)]
struct Adapted<E> {
    inner: E,
    warner: Arc<Warner>,
}

impl<E: SpanExporter> SpanExporter for Adapted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        if let Err(e) = &result {
            self.warner.warn(&e.to_string());
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Builds the provider for an enabled configuration; `None` when tracing is off.
pub(crate) fn provider(
    config: &TelemetryConfig,
) -> Result<Option<(SdkTracerProvider, Arc<Warner>)>, OtelError> {
    let Some(endpoint) = config.resolved_endpoint() else {
        return Ok(None);
    };
    let warner = Arc::new(Warner::new(&endpoint, config.warning_sink()));
    let builder = opentelemetry_otlp::SpanExporter::builder();
    let exporter = match config.protocol() {
        Protocol::Grpc => {
            // tonic spawns its connection task on the current runtime.
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(OtelError::NoRuntime);
            }
            let mut metadata = tonic::metadata::MetadataMap::new();
            for (name, value) in config.headers() {
                let bad = || OtelError::BadHeader { name: name.clone() };
                let key: tonic::metadata::MetadataKey<_> = name.parse().map_err(|_| bad())?;
                metadata.insert(key, value.parse().map_err(|_| bad())?);
            }
            let mut tonic = builder
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .with_timeout(config.export_timeout())
                .with_metadata(metadata);
            if endpoint.starts_with("https://") {
                // tonic trusts no root unless told to; the system's roots, as reqwest uses.
                let tls = opentelemetry_otlp::tonic_types::transport::ClientTlsConfig::new()
                    .with_native_roots();
                tonic = tonic.with_tls_config(tls);
            }
            tonic.build()
        }
        Protocol::HttpProtobuf => {
            let headers: HashMap<String, String> = config.headers().iter().cloned().collect();
            builder
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(endpoint.clone())
                .with_timeout(config.export_timeout())
                .with_headers(headers)
                .build()
        }
    }
    .map_err(|e| OtelError::Exporter(e.to_string()))?;

    let processor = BatchSpanProcessor::builder(Adapted {
        inner: exporter,
        warner: warner.clone(),
    })
    .with_batch_config(
        BatchConfigBuilder::default()
            .with_scheduled_delay(config.scheduled_delay())
            .build(),
    )
    .build();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource(config))
        .with_sampler(sampler(config.sampler()))
        .with_span_processor(processor)
        .build();
    Ok(Some((provider, warner)))
}

/// The resource from the configuration alone: the SDK's default detectors would read the
/// process environment behind the injected lookup's back.
fn resource(config: &TelemetryConfig) -> Resource {
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_attributes(
            config
                .resource_attributes()
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_service_name(config.service_name().to_owned())
        .build()
}

fn sampler(s: Sampler) -> opentelemetry_sdk::trace::Sampler {
    use opentelemetry_sdk::trace::Sampler as S;
    match s {
        Sampler::AlwaysOn => S::AlwaysOn,
        Sampler::AlwaysOff => S::AlwaysOff,
        Sampler::TraceIdRatio(r) => S::TraceIdRatioBased(r),
        Sampler::ParentBasedAlwaysOn => S::ParentBased(Box::new(S::AlwaysOn)),
        Sampler::ParentBasedAlwaysOff => S::ParentBased(Box::new(S::AlwaysOff)),
        Sampler::ParentBasedTraceIdRatio(r) => S::ParentBased(Box::new(S::TraceIdRatioBased(r))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn userinfo_is_not_shown() {
        assert_eq!(
            without_userinfo("https://user:pw@collector:4318/v1/traces"),
            "https://collector:4318/v1/traces"
        );
        assert_eq!(
            without_userinfo("http://collector:4317"),
            "http://collector:4317"
        );
        assert_eq!(without_userinfo("http://c/a@b"), "http://c/a@b");
    }

    #[tokio::test]
    async fn https_endpoints_build_for_both_protocols() {
        for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
            let config = TelemetryConfig::default()
                .with_endpoint("https://collector.example:4317")
                .with_protocol(protocol);
            let built = provider(&config).unwrap();
            assert!(built.is_some(), "{protocol:?}");
        }
    }

    #[test]
    fn grpc_needs_a_runtime() {
        let config = TelemetryConfig::default()
            .with_endpoint("http://localhost:4317")
            .with_protocol(Protocol::Grpc);
        assert!(matches!(provider(&config), Err(OtelError::NoRuntime)));
    }

    #[test]
    fn warns_once() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink_lines = lines.clone();
        let warner = Warner::new(
            "http://u:p@c:1",
            Arc::new(move |l: &str| sink_lines.lock().unwrap().push(l.to_owned())),
        );
        warner.warn("connection refused");
        warner.warn("connection refused again");
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("http://c:1"));
        assert!(!lines[0].contains("u:p"));
    }
}
