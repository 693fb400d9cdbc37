//! The limit of connections per host: many requests at once never open more than the
//! limit (the simulator counts the connections it accepts), and a request waiting for a
//! free one leaves the line when it is dropped.

use std::sync::Arc;
use std::time::Duration;

use runwait_anaplan::{Client, Error, StartOptions, TaskKind, TaskTarget};
use runwait_core::{Task, TaskId};
use runwait_sim::{CallKind, Fault, FaultKind};
use tokio::task::JoinHandle;

use crate::common::*;

/// A client limited to `limit` connections per host (`call_timeout` for its quick
/// calls), the target, and a task it started.
async fn started(
    sim: &runwait_sim::Simulator,
    limit: usize,
    call_timeout: Duration,
) -> (Arc<Client>, TaskTarget, TaskId) {
    let client = basic_builder(sim)
        .max_connections_per_host(limit)
        .call_timeout(call_timeout)
        .build()
        .unwrap();
    let t = target(TaskKind::Import, "112000000001");
    let task = client
        .start(&t, &StartOptions::default())
        .await
        .unwrap()
        .task_id;
    (Arc::new(client), t, task)
}

/// `n` status calls of `task` at once.
fn statuses(
    client: &Arc<Client>,
    t: &TaskTarget,
    task: &TaskId,
    n: usize,
) -> Vec<JoinHandle<Result<Task, Error>>> {
    (0..n)
        .map(|_| {
            let (client, t, task) = (client.clone(), t.clone(), task.clone());
            tokio::spawn(async move { client.status(&t, &task).await })
        })
        .collect()
}

#[tokio::test]
async fn many_requests_at_once_stay_within_the_limit_per_host() {
    // (limit, concurrent status calls)
    for (limit, calls) in [(1, 10), (2, 50), (8, 200)] {
        let sim = sim(1.0).await;
        let (client, t, task) = started(&sim, limit, Duration::from_secs(30)).await;
        for h in statuses(&client, &t, &task, calls) {
            h.await.unwrap().unwrap();
        }
        let conns = sim.connections();
        assert!(
            conns.peak <= limit,
            "limit {limit}: {calls} calls opened {conns:?}"
        );
    }
}

#[tokio::test]
async fn a_request_waiting_for_a_connection_is_dropped_cleanly() {
    let sim = sim(1.0).await;
    let (client, t, task) = started(&sim, 2, Duration::from_secs(3600)).await;
    // The next two status calls hang, holding both connections.
    sim.add_fault(Fault::new(CallKind::Status, 0, 2, FaultKind::Hang))
        .unwrap();
    let handles = statuses(&client, &t, &task, 10);
    let hung = || {
        sim.journal()
            .iter()
            .filter(|e| e.kind == CallKind::Status)
            .count()
    };
    // Waits for a condition, not a time: the two hung calls reach the simulator.
    tokio::time::timeout(Duration::from_secs(30), async {
        while hung() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("two status calls reach the simulator");
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    // The other eight wait for a connection: none was sent.
    assert_eq!(hung(), 2);
    // Dropping every call (the hung ones close their connections) frees the line.
    for h in &handles {
        h.abort();
    }
    for h in handles {
        assert!(h.await.unwrap_err().is_cancelled());
    }
    client.status(&t, &task).await.unwrap();
    assert!(sim.connections().peak <= 2, "{:?}", sim.connections());
}

/// A call queues for its host's connection before it is made, and gives it back before
/// it waits for a login, or renews or logs in itself: the simulator serves the auth
/// service on the API's host, as a proxy may, and with one connection a call that held
/// it through the login or the renewal would leave that request none (and every call
/// hang). `refresh_margin`: longer than the simulator's token lifetime, every token is
/// due for renewal as soon as it is issued.
async fn calls_on_one_connection(refresh_margin: Duration) -> Vec<runwait_sim::JournalEntry> {
    let sim = sim(1.0).await;
    let client = basic_builder(&sim)
        .max_connections_per_host(1)
        .refresh_margin(refresh_margin)
        .build()
        .unwrap();
    let client = Arc::new(client);
    let t = target(TaskKind::Import, "112000000001");
    // A start, listings and plain calls: the listing and the start wait for their
    // turn before they make their futures, then hand it to their first attempt.
    let handles: Vec<JoinHandle<Result<(), Error>>> = (0..20)
        .map(|i| {
            let (client, t) = (client.clone(), t.clone());
            tokio::spawn(async move {
                match i {
                    0 => client.start(&t, &StartOptions::default()).await.map(drop),
                    _ if i % 2 == 1 => client.known_tasks(&t).await.map(drop),
                    _ => client.workspaces().await.map(drop),
                }
            })
        })
        .collect();
    // Bounded only so that a deadlock fails the test rather than hanging it.
    tokio::time::timeout(Duration::from_secs(60), async {
        for h in handles {
            h.await.unwrap().unwrap();
        }
    })
    .await
    .expect("every call ends: none holds the connection the auth request needs");
    assert!(sim.connections().peak <= 1, "{:?}", sim.connections());
    let journal = sim.journal();
    // Ten listings, and the one the start makes first; one start; nine plain calls.
    assert_eq!(calls(&journal, "GET", "/tasks").len(), 11);
    assert_eq!(calls(&journal, "POST", "/tasks").len(), 1);
    assert_eq!(calls(&journal, "GET", "/workspaces").len(), 20);
    journal
}

#[tokio::test]
async fn calls_that_wait_for_the_first_login_leave_it_a_connection() {
    let journal = calls_on_one_connection(Duration::from_secs(5 * 60)).await;
    assert_eq!(calls(&journal, "POST", "/token/authenticate").len(), 1);
}

#[tokio::test]
async fn a_call_that_renews_the_token_leaves_the_renewal_a_connection() {
    let journal = calls_on_one_connection(Duration::from_secs(36 * 60)).await;
    assert!(!calls(&journal, "POST", "/token/refresh").is_empty());
}
