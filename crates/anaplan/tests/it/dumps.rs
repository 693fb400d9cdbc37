//! Dump downloads whose chunk bodies are cut off half-way: each chunk is fetched again
//! and the dump arrives whole, byte for byte.
//!
//! The simulator's faults either answer nothing or a short body that is complete by its
//! own framing; a body cut off mid-transfer needs a connection that breaks after the
//! headers. A small proxy in front of the simulator does that for the chunk requests it
//! is told to cut; everything else it passes through unchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::common::*;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures_util::StreamExt as _;
use reqwest::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use runwait_anaplan::{
    BasicAuth, Client, DumpSource, Endpoints, Error, RetryPolicy, Secret, TaskKind, TransportKind,
};
use runwait_sim::{Scenario, Simulator};

/// A pass-through proxy that cuts the body of the next `cuts` chunk downloads in half.
struct CuttingProxy {
    upstream: String,
    cuts: AtomicU32,
    client: reqwest::Client,
}

async fn forward(State(proxy): State<Arc<CuttingProxy>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = proxy
        .client
        .request(parts.method.clone(), format!("{}{path}", proxy.upstream))
        .body(body.to_vec());
    for (name, value) in &parts.headers {
        if name != HOST && name != CONTENT_LENGTH {
            upstream = upstream.header(name, value);
        }
    }
    let reply = upstream.send().await.unwrap();
    let (status, headers) = (reply.status(), reply.headers().clone());
    let bytes = reply.bytes().await.unwrap();
    let cut = parts.uri.path().contains("/chunks/")
        && proxy
            .cuts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        // The full length stays announced: the client must see the body break off.
        if name != TRANSFER_ENCODING && name != CONNECTION {
            response = response.header(name, value);
        }
    }
    let body = if cut {
        let half = bytes.slice(..bytes.len() / 2);
        let pieces =
            futures_util::stream::iter([Ok(half)]).chain(futures_util::stream::once(async {
                // Let the half reach the client before the connection breaks.
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(std::io::Error::other("cut off"))
            }));
        Body::from_stream(pieces)
    } else {
        Body::from(bytes)
    };
    response.body(body).unwrap()
}

/// Starts the proxy in front of `sim`; returns its endpoints and its cut counter.
async fn proxy(sim: &Simulator) -> (Endpoints, Arc<CuttingProxy>) {
    let state = Arc::new(CuttingProxy {
        upstream: sim.auth_url(),
        cuts: AtomicU32::new(0),
        client: reqwest::Client::new(),
    });
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let endpoints =
        Endpoints::custom(&format!("http://{addr}/2/0"), &format!("http://{addr}")).unwrap();
    (endpoints, state)
}

fn client(endpoints: Endpoints, retry: RetryPolicy) -> Client {
    Client::builder(endpoints, BasicAuth::new(USER, Secret::new(PASSWORD)))
        .retry(retry)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_chunk_cut_off_half_way_is_fetched_again_and_the_dump_is_whole() {
    let mut scenario = Scenario::builtin();
    scenario.dump_chunk_size = 64;
    let sim = sim_with(scenario, 500.0).await;
    let direct = basic_client(&sim);
    let import = target(TaskKind::Import, "112000000003");
    let (task_id, _) = start_and_wait(&direct, &import, Duration::from_millis(10)).await;
    let chunks = direct
        .dump_chunks(&import, &task_id, &DumpSource::Import)
        .await
        .unwrap();
    assert!(chunks.len() > 2, "{chunks:?}");
    let mut expected = Vec::new();
    direct
        .download_dump(&import, &task_id, &DumpSource::Import, &mut expected)
        .await
        .unwrap();

    let (endpoints, cutter) = proxy(&sim).await;
    let gets_before = calls(&sim.journal(), "GET", "/dump/chunks/").len();
    // The first chunk breaks off twice (its first download and its first retry).
    cutter.cuts.store(2, Ordering::SeqCst);
    let mut got = Vec::new();
    let n = client(endpoints, quick_retries())
        .download_dump(&import, &task_id, &DumpSource::Import, &mut got)
        .await
        .unwrap();
    assert_eq!(cutter.cuts.load(Ordering::SeqCst), 0, "both cuts happened");
    assert_eq!(got, expected, "byte for byte, no half chunk written");
    assert_eq!(n as usize, expected.len());
    let journal = sim.journal();
    let gets: Vec<&str> = calls(&journal, "GET", "/dump/chunks/")[gets_before..]
        .iter()
        .map(|e| e.path.rsplit('/').next().unwrap())
        .collect();
    let mut ids: Vec<&str> = chunks.iter().map(|c| c.id.as_str()).collect();
    ids.insert(0, ids[0]);
    ids.insert(0, ids[0]);
    assert_eq!(
        gets, ids,
        "chunk 0 three times, then the others once, in order"
    );
}

#[tokio::test]
async fn without_retries_a_cut_off_chunk_is_a_broken_transport() {
    let sim = sim(500.0).await;
    let direct = basic_client(&sim);
    let import = target(TaskKind::Import, "112000000003");
    let (task_id, _) = start_and_wait(&direct, &import, Duration::from_millis(10)).await;
    let (endpoints, cutter) = proxy(&sim).await;
    cutter.cuts.store(1, Ordering::SeqCst);
    let err = client(endpoints, RetryPolicy::none())
        .download_dump(&import, &task_id, &DumpSource::Import, &mut Vec::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Broken,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_chunk_list_is_read_page_by_page_and_chunks_are_asked_for_as_text() {
    let mut scenario = Scenario::builtin();
    scenario.dump_chunk_size = 16;
    let sim = sim_with(scenario, 1.0).await;
    // Three chunks per page of the chunk list; the simulator answers a chunk asked for
    // with `Accept: application/json` only with 406, so a whole dump proves the header.
    let client = basic_builder(&sim)
        .pool_idle_timeout(None)
        .page_size(3)
        .build()
        .unwrap();
    let import = target(TaskKind::Import, "112000000003");
    let (task_id, _) = start_and_wait(&client, &import, Duration::from_secs(5)).await;
    let chunks = client
        .dump_chunks(&import, &task_id, &DumpSource::Import)
        .await
        .unwrap();
    assert!(chunks.len() > 6, "{}", chunks.len());
    let ids: Vec<String> = (0..chunks.len()).map(|i| i.to_string()).collect();
    assert_eq!(chunks.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), ids);
    let mut csv = Vec::new();
    let n = client
        .download_dump(&import, &task_id, &DumpSource::Import, &mut csv)
        .await
        .unwrap();
    assert_eq!(n as usize, csv.len());
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("_Status_"), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.starts_with("E,")).count(), 5);
    let journal = sim.journal();
    let pages = calls(&journal, "GET", "/dump/chunks?");
    assert!(
        pages.iter().any(|e| e.path.contains("offset=3&limit=3")),
        "{pages:?}"
    );
    assert!(
        calls(&journal, "GET", "/dump/chunks/")
            .iter()
            .all(|e| e.answer == runwait_sim::Answer::Status(200))
    );
}
