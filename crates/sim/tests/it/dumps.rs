//! Failure dumps over real HTTP: chunked downloads, per-object process dumps, and dumps
//! that are gone (other user, newer run, none to give).

use crate::common::{T, advance, assert_envelope, http, login, one_model, scenario};
use reqwest::StatusCode;
use runwait_core::catalog::ChunkList;
use runwait_sim::Scenario;

const USERS: &str = "
users:
  - {name: demo@runwait.local, password: demo}
  - {name: other@runwait.local, password: other}";

const OBJECTS: &str = r#"
imports:
  - {id: "112000000001", name: Customers, duration: 10s, outcome: failure, dump_rows: 5}
  - {id: "112000000002", name: Clean, duration: 10s}
exports:
  - {id: "116000000001", name: Out, duration: 5s}
processes:
  - {id: "118000000001", name: P, actions: ["112000000001", "116000000001"]}
"#;

/// Failing imports with dumps cut into 100-byte chunks, alone and in a process.
fn dumps() -> Scenario {
    scenario(&one_model(
        &format!("{USERS}\ndump_chunk_size: 100"),
        OBJECTS,
    ))
}

/// Downloads a dump the way a client must: list the chunks, fetch each in order.
async fn download(t: &T, token: &str, dump_url: &str) -> Result<Vec<u8>, StatusCode> {
    let auth = format!("AnaplanAuthToken {token}");
    let res = t
        .http
        .get(format!("{dump_url}/chunks"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    if res.status() != StatusCode::OK {
        return Err(res.status());
    }
    let list = ChunkList::parse(&res.text().await.unwrap()).unwrap();
    let mut out = Vec::new();
    for chunk in &list.items {
        let res = t
            .http
            .get(format!("{dump_url}/chunks/{}", chunk.id))
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        out.extend_from_slice(&res.bytes().await.unwrap());
    }
    Ok(out)
}

#[tokio::test(start_paused = true)]
async fn an_import_dump_downloads_in_several_chunks() {
    let t = T::start(dumps()).await;
    let id = t.start_task("imports", "112000000001").await;
    let dump = format!("{}/tasks/{id}/dump", t.obj("imports", "112000000001"));
    assert_eq!(
        download(&t, &t.token, &dump).await,
        Err(StatusCode::NOT_FOUND),
        "no dump while running"
    );
    advance(10).await;
    let task = t.task("imports", "112000000001", &id).await;
    let result = task.result.unwrap();
    assert!(!result.successful && result.failure_dump_available);
    assert_eq!(result.counts().failed_count, Some(5));

    let (_, list) = t.get(&format!("{dump}/chunks")).await;
    let chunks = list["chunks"].as_array().unwrap().len();
    assert!(chunks > 2, "{list}");
    assert_eq!(list["chunks"][0]["id"], "0");
    let csv = String::from_utf8(download(&t, &t.token, &dump).await.unwrap()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "_Status_,Code,Name,Parent,_Line_,_Error_1_");
    assert_eq!(lines.len(), 6);
    assert!(lines[1..].iter().all(|l| l.starts_with("E,")));
    assert!(csv.len() > 100 * (chunks - 1) && csv.len() <= 100 * chunks);

    let (code, err) = t.get(&format!("{dump}/chunks/{chunks}")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_envelope(&err, 404, &format!("/chunks/{chunks}"));
    assert_eq!(
        t.get(&format!("{dump}/chunks/x")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(start_paused = true)]
async fn a_process_has_one_dump_per_nested_import() {
    let t = T::start(dumps()).await;
    let id = t.start_task("processes", "118000000001").await;
    advance(15).await;
    let result = t
        .task("processes", "118000000001", &id)
        .await
        .result
        .unwrap();
    assert!(result.failure_dump_available);
    assert!(result.nested_results[0].failure_dump_available);
    assert!(!result.nested_results[1].failure_dump_available);
    let base = format!("{}/tasks/{id}/dumps", t.obj("processes", "118000000001"));
    let csv = download(&t, &t.token, &format!("{base}/112000000001"))
        .await
        .unwrap();
    assert!(csv.starts_with(b"_Status_,"));
    assert_eq!(
        download(&t, &t.token, &format!("{base}/116000000001")).await,
        Err(StatusCode::NOT_FOUND)
    );
    // The import-dump path does not serve a process task.
    let wrong = format!("{}/tasks/{id}/dump", t.obj("processes", "118000000001"));
    assert_eq!(
        download(&t, &t.token, &wrong).await,
        Err(StatusCode::NOT_FOUND)
    );
}

#[tokio::test(start_paused = true)]
async fn a_newer_run_by_the_same_user_replaces_the_dump() {
    let t = T::start(dumps()).await;
    let other = login(&http(), &t.sim, "other@runwait.local", "other").await;
    let old = t.start_task("imports", "112000000001").await;
    advance(10).await;
    let old_dump = format!("{}/tasks/{old}/dump", t.obj("imports", "112000000001"));
    assert!(download(&t, &t.token, &old_dump).await.is_ok());
    // Dumps are per user: another user cannot read it.
    assert_eq!(
        download(&t, &other, &old_dump).await,
        Err(StatusCode::NOT_FOUND)
    );
    // Another user's run of the same import does not replace it…
    let res = t
        .start_request("imports", "112000000001")
        .header("Authorization", format!("AnaplanAuthToken {other}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    advance(10).await;
    assert!(download(&t, &t.token, &old_dump).await.is_ok());
    // …but a newer run by the same user does, even inside a process, while the old
    // status still says a dump is available.
    let newer = t.start_task("processes", "118000000001").await;
    assert_eq!(
        download(&t, &t.token, &old_dump).await,
        Err(StatusCode::NOT_FOUND)
    );
    let old_task = t.task("imports", "112000000001", &old).await;
    assert!(old_task.result.unwrap().failure_dump_available);
    advance(15).await;
    let new_dump = format!(
        "{}/tasks/{newer}/dumps/112000000001",
        t.obj("processes", "118000000001")
    );
    assert!(download(&t, &t.token, &new_dump).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_successful_import_has_no_dump() {
    let t = T::start(dumps()).await;
    let id = t.start_task("imports", "112000000002").await;
    advance(10).await;
    let dump = format!("{}/tasks/{id}/dump", t.obj("imports", "112000000002"));
    assert_eq!(
        download(&t, &t.token, &dump).await,
        Err(StatusCode::NOT_FOUND)
    );
}

#[tokio::test(start_paused = true)]
async fn builtin_warnings_dump_has_warning_rows() {
    let t = T::builtin().await;
    let id = t.start_task("imports", "112000000002").await;
    advance(20).await;
    let result = t.task("imports", "112000000002", &id).await.result.unwrap();
    assert!(result.successful && result.failure_dump_available);
    let dump = format!("{}/tasks/{id}/dump", t.obj("imports", "112000000002"));
    let csv = String::from_utf8(download(&t, &t.token, &dump).await.unwrap()).unwrap();
    assert_eq!(csv.lines().filter(|l| l.starts_with("W,")).count(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_chunk_list_pages_past_a_listing_page() {
    // One-byte chunks: a 100-row dump has more chunks than a listing page holds (5000),
    // so its chunk list pages like every listing (issue 11: a client must follow it).
    let objects = r#"
imports:
  - {id: "112000000001", name: Customers, duration: 10s, outcome: failure, dump_rows: 100}
"#;
    let t = T::start(scenario(&one_model(
        &format!("{USERS}\ndump_chunk_size: 1"),
        objects,
    )))
    .await;
    let id = t.start_task("imports", "112000000001").await;
    advance(10).await;
    let dump = format!("{}/tasks/{id}/dump", t.obj("imports", "112000000001"));
    let (code, list) = t.get(&format!("{dump}/chunks")).await;
    assert_eq!(code, StatusCode::OK);
    let first = list["chunks"].as_array().unwrap();
    assert_eq!(first.len(), 5000);
    assert_eq!(list["meta"]["paging"]["currentPageSize"], 5000);
    let total = list["meta"]["paging"]["totalSize"].as_u64().unwrap() as usize;
    assert!(total > 5000, "{total}");
    let (code, rest) = t
        .get(&format!("{dump}/chunks?offset=5000&limit=5000"))
        .await;
    assert_eq!(code, StatusCode::OK);
    let rest = rest["chunks"].as_array().unwrap();
    assert_eq!(first.len() + rest.len(), total);
    let last = total - 1;
    assert_eq!(rest.last().unwrap()["id"], last.to_string());
    // The last chunk is the CSV's closing newline, and there is none after it.
    let res = t
        .raw(t.http.get(format!("{dump}/chunks/{last}")))
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"\n");
    assert_eq!(
        t.get(&format!("{dump}/chunks/{}", last + 1)).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(start_paused = true)]
async fn a_dump_is_gone_48_hours_after_its_last_read() {
    let t = T::start(dumps()).await;
    let id = t.start_task("imports", "112000000001").await;
    let dump = format!("{}/tasks/{id}/dump", t.obj("imports", "112000000001"));
    advance(10).await;
    // Read 47 hours after the end: kept, and the read keeps it another 48 hours.
    advance(47 * 3600).await;
    let token = login(&t.http, &t.sim, "demo@runwait.local", "demo").await;
    assert!(download(&t, &token, &dump).await.is_ok());
    advance(47 * 3600).await;
    let token = login(&t.http, &t.sim, "demo@runwait.local", "demo").await;
    assert!(download(&t, &token, &dump).await.is_ok());
    advance(48 * 3600).await;
    let token = login(&t.http, &t.sim, "demo@runwait.local", "demo").await;
    assert_eq!(
        download(&t, &token, &dump).await,
        Err(StatusCode::NOT_FOUND),
        "48 hours without a read: gone"
    );
}

#[tokio::test(start_paused = true)]
async fn chunk_lists_page_and_chunks_are_not_json() {
    let t = T::start(dumps()).await;
    let id = t.start_task("imports", "112000000001").await;
    let dump = format!("{}/tasks/{id}/dump", t.obj("imports", "112000000001"));
    advance(10).await;
    let (_, all) = t.get(&format!("{dump}/chunks")).await;
    let total = all["chunks"].as_array().unwrap().len();
    assert!(total > 2, "{all}");
    let (status, page) = t.get(&format!("{dump}/chunks?offset=1&limit=2")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["chunks"][0]["id"], "1", "{page}");
    assert_eq!(page["chunks"].as_array().unwrap().len(), 2);
    assert_eq!(page["meta"]["paging"]["totalSize"], total);
    // A chunk is the dump's text: a client accepting only JSON gets 406.
    let chunk = format!("{dump}/chunks/0");
    let (status, body) = t
        .send(t.http.get(&chunk).header("Accept", "application/json"))
        .await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_envelope(&body, 406, "/chunks/0");
    for accept in ["*/*", "text/plain", "application/json, text/plain;q=0.9"] {
        let (status, _) = t.send(t.http.get(&chunk).header("Accept", accept)).await;
        assert_eq!(status, StatusCode::OK, "{accept}");
    }
}
