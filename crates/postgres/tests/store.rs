//! The store against a real PostgreSQL server (started by `runwait_postgres::testing`,
//! one database per test): records, leases, history, migrations, the shared budget.

use std::time::Duration;

use futures_util::future::join_all;
use runwait_core::TaskId;
use runwait_core::target::{KnownTasks, TaskKind, TaskTarget};
use runwait_executor::{
    HistoryQuery, SlotSource, StateStore, StepHistory, StepKey, StepOutcome, StepRecord, StoreError,
};
use runwait_postgres::testing::TestServer;
use runwait_postgres::{PgOptions, PgSlots, PgStore, PgUrl, SCHEMA_VERSION};

fn target(object: &str) -> TaskTarget {
    TaskTarget::new("w", "M", TaskKind::Process, object)
}

async fn store_with(url: &PgUrl, lease: Duration) -> PgStore {
    PgStore::connect(url, PgOptions::default().lease(lease))
        .await
        .unwrap()
}

async fn store() -> (PgUrl, PgStore) {
    let url = TestServer::shared().database();
    let store = store_with(&url, Duration::from_secs(60)).await;
    (url, store)
}

#[tokio::test]
async fn records_round_trip_and_are_listed_in_order() {
    let (_, store) = store().await;
    let key = StepKey::new("nightly", "load", "2026-11-28");
    assert_eq!(store.load(&key).await.unwrap(), None);
    let first = StepRecord::new(&key, target("118000000001"), KnownTasks::default());
    store.save(&first).await.unwrap();
    assert_eq!(store.load(&key).await.unwrap(), Some(first.clone()));
    let second = first
        .clone()
        .task_id(Some(TaskId::new("ABC")))
        .traceparent(Some(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        ));
    store.save(&second).await.unwrap();
    assert_eq!(store.load(&key).await.unwrap(), Some(second.clone()));
    let other = StepRecord::new(
        &StepKey::new("nightly", "export", "2026-11-28"),
        target("116000000001"),
        KnownTasks::default(),
    );
    store.save(&other).await.unwrap();
    let listed: Vec<StepRecord> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(listed, vec![other, second]);
}

#[tokio::test]
async fn a_lease_is_exclusive_renewed_released_and_taken_over_once_expired() {
    let url = TestServer::shared().database();
    // Two processes (two pools, two holders) on one database, with a 3 s lease.
    let a = store_with(&url, Duration::from_secs(3)).await;
    let b = store_with(&url, Duration::from_secs(3)).await;
    assert_ne!(a.holder(), b.holder());
    let key = StepKey::new("w", "s", "r1");

    let held = a.lock(&key).await.unwrap();
    assert_eq!(held.renew_every(), Some(Duration::from_secs(1)));
    let busy = b.lock(&key).await.unwrap_err();
    assert!(matches!(busy, StoreError::Busy { .. }), "{busy}");
    let text = busy.to_string();
    assert!(text.contains("another run with the same run key"), "{text}");
    assert!(text.contains(a.holder()), "names the holder: {text}");
    // Renewals keep it past its first expiry.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        held.renew().await.unwrap();
    }
    assert!(b.lock(&key).await.is_err(), "renewed: still held");
    // Released: free at once.
    held.release().await.unwrap();
    let by_b = b.lock(&key).await.unwrap();

    // b "crashes" (never renews): after the lease time a takes it over, and b's
    // renewal then finds it lost.
    assert!(a.lock(&key).await.is_err());
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let by_a = a.lock(&key).await.unwrap();
    let lost = by_b.renew().await.unwrap_err();
    assert!(matches!(lost, StoreError::LeaseLost { .. }), "{lost}");
    assert!(
        lost.to_string()
            .contains("lease on step run w/s@r1 was lost"),
        "{lost}"
    );
    // b's late release does not free a's lease.
    by_b.release().await.unwrap();
    assert!(b.lock(&key).await.is_err());
    by_a.renew().await.unwrap();
}

#[tokio::test]
async fn of_many_processes_racing_for_a_lease_exactly_one_gets_it() {
    let url = TestServer::shared().database();
    let mut stores = Vec::new();
    for _ in 0..8 {
        stores.push(store_with(&url, Duration::from_secs(60)).await);
    }
    let key = StepKey::new("w", "s", "race");
    let results = join_all(stores.iter().map(|s| s.lock(&key))).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1);
}

#[tokio::test]
async fn history_is_kept_and_read_newest_first() {
    let (_, store) = store().await;
    let key = StepKey::new("nightly", "load", "r1");
    for (i, object) in ["118000000001", "118000000002", "118000000001"]
        .into_iter()
        .enumerate()
    {
        let entry = StepHistory::ended_now(
            &key,
            target(object),
            StepOutcome::Succeeded,
            Duration::from_millis(1500 * (i as u64 + 1)),
        )
        .task_id(Some(TaskId::new(format!("T{i}"))))
        .polls(i as u32)
        .running(Some(Duration::from_millis(1000 * (i as u64 + 1))));
        store.record_finished(&entry).await.unwrap();
    }
    let mine = store
        .history(&HistoryQuery::newest(10).target(target("118000000001")))
        .await
        .unwrap();
    assert_eq!(mine.iter().map(|e| e.polls).collect::<Vec<_>>(), vec![2, 0]);
    assert_eq!(mine[0].duration, Duration::from_millis(4500));
    assert_eq!(mine[0].task_id, Some(TaskId::new("T2")));
    // The running time the poll schedule learns from is kept too.
    assert_eq!(mine[0].running, Some(Duration::from_millis(3000)));
    let newest = store.history(&HistoryQuery::newest(1)).await.unwrap();
    assert_eq!(newest.len(), 1);
    let none = store
        .history(&HistoryQuery::newest(10).workflow("other"))
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn the_schema_is_created_once_and_connecting_again_changes_nothing() {
    let (url, store) = store().await;
    let record = StepRecord::new(
        &StepKey::new("w", "s", "r"),
        target("118000000001"),
        KnownTasks::default(),
    );
    store.save(&record).await.unwrap();
    // Connecting again (another process, a restart) migrates nothing and keeps the data.
    for _ in 0..2 {
        let again = store_with(&url, Duration::from_secs(60)).await;
        assert_eq!(again.list().await.unwrap().len(), 1);
    }
    let versions = schema_versions(&url).await;
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
}

async fn schema_versions(url: &PgUrl) -> Vec<i32> {
    let (client, conn) = url.config().connect(tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(conn);
    let rows = client
        .query("SELECT version FROM runwait_schema ORDER BY version", &[])
        .await
        .unwrap();
    drop(client);
    driver.await.unwrap().unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error_without_the_password() {
    let url = TestServer::unreachable();
    let err = PgStore::connect(
        &url,
        PgOptions::default().connect_timeout(Duration::from_secs(2)),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("cannot reach the PostgreSQL state store at postgres://127.0.0.1:"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn two_processes_on_one_tenant_budget_share_its_rate() {
    let (url, store) = store().await;
    // Two pools on one database (two processes), and another database.
    let second = store_with(&url, Duration::from_secs(60)).await;
    let other = store_with(&TestServer::shared().database(), Duration::from_secs(60)).await;
    let tenant = "api.example.com demo@runwait.local";
    let a = PgSlots::new(&store, tenant);
    let b = PgSlots::new(&second, tenant);
    let someone_else = PgSlots::new(&store, "api.example.com other@runwait.local");
    // Slots ten seconds apart: the milliseconds between the calls do not count.
    let interval = Duration::from_secs(10);
    let mut waits = Vec::new();
    for i in 0..6 {
        let slots = if i % 2 == 0 { &a } else { &b };
        waits.push(slots.reserve(interval).await);
    }
    // Reserved back to back: each one interval after the one before, whoever asked.
    for (i, wait) in waits.iter().enumerate() {
        let due = interval * i as u32;
        assert!(
            due.saturating_sub(*wait) < Duration::from_secs(1) && *wait <= due,
            "reservation {i}: {waits:?}"
        );
    }
    // Another tenant, or another database, is another budget.
    assert!(someone_else.reserve(interval).await < Duration::from_secs(1));
    let elsewhere = PgSlots::new(&other, tenant);
    assert!(elsewhere.reserve(interval).await < Duration::from_secs(1));
}
