//! [`TelemetryConfig`]: what to export where, read from the standard `OTEL_*` variables and
//! overridable in code.
//!
//! Reading is lenient on purpose: a malformed variable must not stop a workflow, so it is
//! ignored and noted in [`TelemetryConfig::warnings`], which [`crate::init`] logs once.

use std::fmt;
use std::time::Duration;

/// The wire protocol of the OTLP exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (`grpc`), usually port 4317; the endpoint has no path.
    Grpc,
    /// OTLP over HTTP with protobuf bodies (`http/protobuf`), usually port 4318; the
    /// default of the OpenTelemetry specification.
    HttpProtobuf,
}

impl Protocol {
    /// Reads `grpc` or `http/protobuf`, the values of `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "grpc" => Some(Self::Grpc),
            "http/protobuf" => Some(Self::HttpProtobuf),
            _ => None,
        }
    }

    fn default_endpoint(self) -> &'static str {
        match self {
            Self::Grpc => "http://localhost:4317",
            Self::HttpProtobuf => "http://localhost:4318",
        }
    }
}

/// Which traces are recorded, as named by `OTEL_TRACES_SAMPLER`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    /// `always_on`: every trace.
    AlwaysOn,
    /// `always_off`: none.
    AlwaysOff,
    /// `traceidratio`: this fraction of traces, chosen by trace id.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default): follow the caller's decision when there is
    /// a parent, else record.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`: follow the caller's decision when there is a parent,
    /// else drop.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`: follow the caller's decision when there is a parent,
    /// else this fraction.
    ParentBasedTraceIdRatio(f64),
}

impl Sampler {
    /// The sampler named by `OTEL_TRACES_SAMPLER`, with `OTEL_TRACES_SAMPLER_ARG` as the
    /// ratio of the ratio samplers (default 1.0).
    fn parse(name: &str, arg: Option<&str>) -> Result<Self, String> {
        let ratio = || match arg.map(str::trim) {
            None | Some("") => Ok(1.0),
            Some(a) => match a.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(format!(
                    "OTEL_TRACES_SAMPLER_ARG={a:?} is not a ratio between 0 and 1"
                )),
            },
        };
        Ok(match name.trim() {
            "always_on" => Self::AlwaysOn,
            "always_off" => Self::AlwaysOff,
            "traceidratio" => Self::TraceIdRatio(ratio()?),
            "parentbased_always_on" => Self::ParentBasedAlwaysOn,
            "parentbased_always_off" => Self::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => Self::ParentBasedTraceIdRatio(ratio()?),
            other => return Err(format!("OTEL_TRACES_SAMPLER={other:?} is not supported")),
        })
    }
}

/// Where a problem found while exporting is reported. The default prints one line on
/// stderr; tests and embedders can capture it.
pub type WarningSink = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// What to export and where.
///
/// Tracing is off (no exporter, no OpenTelemetry layer, no cost) unless an endpoint is
/// configured or [`with_enabled(true)`](Self::with_enabled) is set;
/// `OTEL_SDK_DISABLED=true` (or [`with_sdk_disabled(true)`](Self::with_sdk_disabled))
/// always turns it off.
#[derive(Clone)]
pub struct TelemetryConfig {
    service_name: String,
    endpoint: Option<String>,
    traces_endpoint: Option<String>,
    protocol: Protocol,
    headers: Vec<(String, String)>,
    resource_attributes: Vec<(String, String)>,
    sampler: Sampler,
    enabled: Option<bool>,
    sdk_disabled: bool,
    export_timeout: Duration,
    scheduled_delay: Duration,
    log_filter: Option<String>,
    warnings: Vec<String>,
    warning_sink: WarningSink,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            service_name: "runwait".to_owned(),
            endpoint: None,
            traces_endpoint: None,
            protocol: Protocol::HttpProtobuf,
            headers: Vec::new(),
            resource_attributes: Vec::new(),
            sampler: Sampler::ParentBasedAlwaysOn,
            enabled: None,
            sdk_disabled: false,
            export_timeout: Duration::from_secs(3),
            scheduled_delay: Duration::from_secs(1),
            log_filter: None,
            warnings: Vec::new(),
            warning_sink: std::sync::Arc::new(|line: &str| eprintln!("{line}")),
        }
    }
}

/// Header values may hold API keys: only their names are shown.
impl fmt::Debug for TelemetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, _)| format!("{k}=***"))
            .collect();
        f.debug_struct("TelemetryConfig")
            .field("service_name", &self.service_name)
            .field("endpoint", &self.endpoint)
            .field("traces_endpoint", &self.traces_endpoint)
            .field("protocol", &self.protocol)
            .field("headers", &headers)
            .field("resource_attributes", &self.resource_attributes)
            .field("sampler", &self.sampler)
            .field("enabled", &self.enabled)
            .field("sdk_disabled", &self.sdk_disabled)
            .field("export_timeout", &self.export_timeout)
            .field("scheduled_delay", &self.scheduled_delay)
            .field("log_filter", &self.log_filter)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl TelemetryConfig {
    /// The configuration from the process environment (see [`from_env_with`](Self::from_env_with)).
    pub fn from_env() -> Self {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// The configuration from the standard variables, looked up with `lookup` (an empty
    /// value counts as unset): `OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL` (and its
    /// `_TRACES_` form), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT` (ms),
    /// `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` (+ `_ARG`),
    /// `OTEL_SDK_DISABLED`, `OTEL_BSP_SCHEDULE_DELAY` (ms) and `RUST_LOG`.
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let trimmed = |name: &str| get(name).map(|v| v.trim().to_owned());
        let mut c = Self {
            endpoint: trimmed("OTEL_EXPORTER_OTLP_ENDPOINT"),
            traces_endpoint: trimmed("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            log_filter: get("RUST_LOG"),
            ..Self::default()
        };
        for var in [
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ] {
            if let Some(v) = get(var) {
                match Protocol::parse(&v) {
                    Some(p) => c.protocol = p,
                    None => c.warnings.push(format!(
                        "{var}={v:?} is not supported (use grpc or http/protobuf); ignored"
                    )),
                }
            }
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_HEADERS") {
            // The values are never echoed: they may be API keys.
            c.headers = parse_pairs(&v, "OTEL_EXPORTER_OTLP_HEADERS", &mut c.warnings);
        }
        if let Some(v) = get("OTEL_RESOURCE_ATTRIBUTES") {
            c.resource_attributes = parse_pairs(&v, "OTEL_RESOURCE_ATTRIBUTES", &mut c.warnings);
        }
        if let Some(name) = c
            .resource_attributes
            .iter()
            .find(|(k, _)| k == "service.name")
        {
            c.service_name = name.1.clone();
        }
        if let Some(v) = trimmed("OTEL_SERVICE_NAME") {
            c.service_name = v;
        }
        if let Some(v) = get("OTEL_TRACES_SAMPLER") {
            match Sampler::parse(&v, get("OTEL_TRACES_SAMPLER_ARG").as_deref()) {
                Ok(s) => c.sampler = s,
                Err(e) => c.warnings.push(format!("{e}; ignored")),
            }
        }
        if let Some(v) = get("OTEL_SDK_DISABLED") {
            c.sdk_disabled = v.trim().eq_ignore_ascii_case("true");
        }
        if let Some(d) = millis(&get, "OTEL_EXPORTER_OTLP_TIMEOUT", &mut c.warnings) {
            c.export_timeout = d;
        }
        if let Some(d) = millis(&get, "OTEL_BSP_SCHEDULE_DELAY", &mut c.warnings) {
            c.scheduled_delay = d;
        }
        c
    }

    /// Sets the service name (`service.name` of the resource); default `runwait`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// Sets the base endpoint, as `OTEL_EXPORTER_OTLP_ENDPOINT` does: for gRPC it is used
    /// as is, for HTTP `/v1/traces` is appended. Setting one enables tracing.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the traces endpoint, used verbatim, as `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
    /// does; it wins over [`with_endpoint`](Self::with_endpoint).
    pub fn with_traces_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.traces_endpoint = Some(endpoint.into());
        self
    }

    /// Sets the protocol; default HTTP/protobuf.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Adds a header (gRPC metadata) sent with every export, e.g. an API key. Its value
    /// is never logged nor put in a span.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a resource attribute (`deployment.environment.name`, ...).
    pub fn with_resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.resource_attributes.push((key.into(), value.into()));
        self
    }

    /// Sets the sampler; default [`Sampler::ParentBasedAlwaysOn`].
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// Turns tracing on (with the protocol's local default endpoint if none is set) or
    /// off, whatever the endpoint; unset, tracing is on exactly when an endpoint is set.
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// As `OTEL_SDK_DISABLED=true`: turns tracing off whatever else is set.
    pub fn with_sdk_disabled(mut self, disabled: bool) -> Self {
        self.sdk_disabled = disabled;
        self
    }

    /// Sets how long one export may take, retries included; default 3 s. Shutdown
    /// waits at most about twice this.
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = timeout;
        self
    }

    /// Sets how long a finished span may wait before it is sent; default 1 s, so that
    /// poll spans show up during a long wait.
    pub fn with_scheduled_delay(mut self, delay: Duration) -> Self {
        self.scheduled_delay = delay;
        self
    }

    /// Sets the stderr log filter, in `RUST_LOG` syntax; default `info`.
    pub fn with_log_filter(mut self, filter: impl Into<String>) -> Self {
        self.log_filter = Some(filter.into());
        self
    }

    /// Sets where export problems are reported (one line, once); default stderr.
    pub fn with_warning_sink(mut self, sink: WarningSink) -> Self {
        self.warning_sink = sink;
        self
    }

    /// Whether spans will be exported.
    pub fn is_enabled(&self) -> bool {
        !self.sdk_disabled
            && self
                .enabled
                .unwrap_or(self.endpoint.is_some() || self.traces_endpoint.is_some())
    }

    /// The URL spans are sent to, or `None` when tracing is off.
    pub fn resolved_endpoint(&self) -> Option<String> {
        if !self.is_enabled() {
            return None;
        }
        if let Some(e) = &self.traces_endpoint {
            return Some(e.clone());
        }
        let base = self
            .endpoint
            .as_deref()
            .unwrap_or(self.protocol.default_endpoint());
        Some(match self.protocol {
            Protocol::Grpc => base.to_owned(),
            Protocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
        })
    }

    /// Problems found while reading the environment; each was ignored.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The service name.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The sampler.
    pub fn sampler(&self) -> Sampler {
        self.sampler
    }

    pub(crate) fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    pub(crate) fn resource_attributes(&self) -> &[(String, String)] {
        &self.resource_attributes
    }

    pub(crate) fn export_timeout(&self) -> Duration {
        self.export_timeout
    }

    pub(crate) fn scheduled_delay(&self) -> Duration {
        self.scheduled_delay
    }

    pub(crate) fn log_filter(&self) -> Option<&str> {
        self.log_filter.as_deref()
    }

    pub(crate) fn warning_sink(&self) -> WarningSink {
        self.warning_sink.clone()
    }
}

/// A `key=value,key=value` list with percent-encoded values (the W3C baggage format the
/// specification uses for headers and resource attributes). A malformed member is
/// skipped; the warning names the variable, not the member, which may be a secret.
fn parse_pairs(value: &str, var: &str, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut skipped = 0;
    for member in value.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let parsed = member.split_once('=').and_then(|(k, v)| {
            let k = k.trim();
            let v = percent_decode(v.trim())?;
            (!k.is_empty()).then(|| (k.to_owned(), v))
        });
        match parsed {
            Some(pair) => pairs.push(pair),
            None => skipped += 1,
        }
    }
    if skipped > 0 {
        warnings.push(format!(
            "{var}: {skipped} malformed entr{} ignored (expected key=value)",
            if skipped == 1 { "y" } else { "ies" }
        ));
    }
    pairs
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn millis(
    get: &impl Fn(&str) -> Option<String>,
    var: &str,
    warnings: &mut Vec<String>,
) -> Option<Duration> {
    let v = get(var)?;
    match v.trim().parse::<u64>() {
        Ok(ms) => Some(Duration::from_millis(ms)),
        Err(_) => {
            warnings.push(format!(
                "{var}={v:?} is not a number of milliseconds; ignored"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> TelemetryConfig {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TelemetryConfig::from_env_with(|name| map.get(name).cloned())
    }

    #[test]
    fn off_without_an_endpoint() {
        let c = config(&[("OTEL_SERVICE_NAME", "x")]);
        assert!(!c.is_enabled());
        assert_eq!(c.resolved_endpoint(), None);
        assert!(c.warnings().is_empty());
    }

    #[test]
    fn base_endpoint_gets_the_traces_path_over_http_only() {
        let c = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]);
        assert_eq!(
            c.resolved_endpoint().as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert_eq!(c.protocol(), Protocol::Grpc);
        assert_eq!(
            c.resolved_endpoint().as_deref(),
            Some("http://collector:4317")
        );
    }

    #[test]
    fn traces_endpoint_is_verbatim_and_wins() {
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:9999/custom"),
        ]);
        assert_eq!(
            c.resolved_endpoint().as_deref(),
            Some("http://b:9999/custom")
        );
    }

    #[test]
    fn sdk_disabled_always_wins() {
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_SDK_DISABLED", "TRUE"),
        ]);
        assert!(!c.is_enabled());
        assert!(!c.with_enabled(true).is_enabled());
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_SDK_DISABLED", "false"),
        ]);
        assert!(c.is_enabled());
    }

    #[test]
    fn enabled_without_endpoint_uses_the_local_default() {
        let c = TelemetryConfig::default().with_enabled(true);
        assert_eq!(
            c.resolved_endpoint().as_deref(),
            Some("http://localhost:4318/v1/traces")
        );
        let c = c.with_protocol(Protocol::Grpc);
        assert_eq!(
            c.resolved_endpoint().as_deref(),
            Some("http://localhost:4317")
        );
        let c = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318")]).with_enabled(false);
        assert!(!c.is_enabled());
    }

    #[test]
    fn headers_are_decoded_and_never_shown() {
        let c = config(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "api-key=s3cr%3Dt, x-team = ops ,broken",
        )]);
        assert_eq!(
            c.headers(),
            &[
                ("api-key".to_owned(), "s3cr=t".to_owned()),
                ("x-team".to_owned(), "ops".to_owned())
            ]
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(shown.contains("api-key=***"), "{shown}");
        assert_eq!(c.warnings().len(), 1);
        assert!(!c.warnings()[0].contains("broken"));
    }

    #[test]
    fn service_name_from_variable_or_resource_attributes() {
        let c = config(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attrs,deployment.environment.name=prod",
        )]);
        assert_eq!(c.service_name(), "from-attrs");
        assert_eq!(c.resource_attributes().len(), 2);
        let c = config(&[
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
            ("OTEL_SERVICE_NAME", "from-var"),
        ]);
        assert_eq!(c.service_name(), "from-var");
        assert_eq!(config(&[]).service_name(), "runwait");
    }

    #[test]
    fn samplers() {
        let s = |name: &str, arg: Option<&str>| {
            let mut vars = vec![("OTEL_TRACES_SAMPLER", name)];
            vars.extend(arg.map(|a| ("OTEL_TRACES_SAMPLER_ARG", a)));
            config(&vars)
        };
        assert_eq!(s("always_on", None).sampler(), Sampler::AlwaysOn);
        assert_eq!(s("always_off", None).sampler(), Sampler::AlwaysOff);
        assert_eq!(
            s("traceidratio", Some("0.25")).sampler(),
            Sampler::TraceIdRatio(0.25)
        );
        assert_eq!(
            s("parentbased_traceidratio", None).sampler(),
            Sampler::ParentBasedTraceIdRatio(1.0)
        );
        assert_eq!(
            s("parentbased_always_off", None).sampler(),
            Sampler::ParentBasedAlwaysOff
        );
        let bad = s("traceidratio", Some("2"));
        assert_eq!(bad.sampler(), Sampler::ParentBasedAlwaysOn);
        assert_eq!(bad.warnings().len(), 1);
        let unknown = s("jaeger_remote", None);
        assert_eq!(unknown.sampler(), Sampler::ParentBasedAlwaysOn);
        assert!(unknown.warnings()[0].contains("jaeger_remote"));
    }

    #[test]
    fn bad_values_are_ignored_with_a_warning() {
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "  "),
        ]);
        assert_eq!(c.protocol(), Protocol::HttpProtobuf);
        assert_eq!(c.export_timeout(), Duration::from_secs(3));
        assert_eq!(c.scheduled_delay(), Duration::from_millis(250));
        assert!(!c.is_enabled(), "a blank endpoint counts as unset");
        assert_eq!(c.warnings().len(), 2, "{:?}", c.warnings());
    }

    #[test]
    fn rust_log_is_read() {
        assert_eq!(config(&[("RUST_LOG", "debug")]).log_filter(), Some("debug"));
    }
}
