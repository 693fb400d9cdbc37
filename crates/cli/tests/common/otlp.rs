//! An OTLP/HTTP receiver on 127.0.0.1 for the tests of exported spans (the gRPC one,
//! `otlp_grpc.rs`, keeps its spans the same way).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// The spans a receiver got.
pub type Spans = Arc<Mutex<Vec<Span>>>;

/// Keeps the spans of one export request.
pub fn keep(sink: &Spans, request: ExportTraceServiceRequest) {
    let mut sink = sink.lock().unwrap();
    for rs in request.resource_spans {
        for ss in rs.scope_spans {
            sink.extend(ss.spans);
        }
    }
}

/// Accepts OTLP/HTTP exports on a thread; returns the endpoint and the spans received.
pub fn receiver() -> (String, Spans) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let spans = Arc::new(Mutex::new(Vec::new()));
    let sink = spans.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let request = reader
                .read_exact(&mut body)
                .ok()
                .and_then(|()| ExportTraceServiceRequest::decode(body.as_slice()).ok());
            if let Some(request) = request {
                keep(&sink, request);
            }
            let mut stream = reader.into_inner();
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    (endpoint, spans)
}
