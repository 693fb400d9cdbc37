//! The lease file: who holds it (a table over machines, processes and expiry) and what
//! takes, renewals and releases do to it, between stores and between processes.

use super::*;
use crate::store::{FileStore, RunKey, StateStore};

const MINUTE: Duration = Duration::from_secs(60);

fn me() -> Me {
    Me {
        host: "a".into(),
        machine: Some("boot-1/pid:[1]".into()),
        pid: 10,
        started: Some(100),
    }
}

/// One row of [`who_holds_a_lease`]: a holder, the live processes of this machine, and
/// whether the holder still holds.
struct Case {
    name: &'static str,
    host: &'static str,
    machine: Option<&'static str>,
    /// The holder's pid and start time.
    process: (u32, u64),
    expired: bool,
    /// Live processes here: pid and start time.
    live: &'static [(u32, u64)],
    holds: bool,
}

const HERE: Option<&str> = Some("boot-1/pid:[1]");

const fn case(
    name: &'static str,
    (host, machine): (&'static str, Option<&'static str>),
    process: (u32, u64),
    expired: bool,
    live: &'static [(u32, u64)],
    holds: bool,
) -> Case {
    Case {
        name,
        host,
        machine,
        process,
        expired,
        live,
        holds,
    }
}

const CASES: &[Case] = &[
    case("here, alive", ("a", HERE), (7, 70), false, &[(7, 70)], true),
    case(
        "here, alive, expired",
        ("a", HERE),
        (7, 70),
        true,
        &[(7, 70)],
        true,
    ),
    case("here, gone", ("a", HERE), (7, 70), false, &[], false),
    case(
        "here, pid reused",
        ("a", HERE),
        (7, 70),
        false,
        &[(7, 71)],
        false,
    ),
    case(
        "this very process",
        ("a", HERE),
        (10, 100),
        false,
        &[(10, 100)],
        true,
    ),
    case(
        "other pid namespace",
        ("a", Some("boot-1/pid:[2]")),
        (7, 70),
        false,
        &[],
        true,
    ),
    case(
        "other pid namespace, expired",
        ("a", Some("boot-1/pid:[2]")),
        (7, 70),
        true,
        &[(7, 70)],
        false,
    ),
    case(
        "this host rebooted",
        ("a", Some("boot-0/pid:[1]")),
        (7, 70),
        false,
        &[(7, 70)],
        false,
    ),
    case(
        "other host",
        ("b", Some("boot-9/pid:[1]")),
        (7, 70),
        false,
        &[],
        true,
    ),
    case(
        "other host, expired",
        ("b", Some("boot-9/pid:[1]")),
        (7, 70),
        true,
        &[(7, 70)],
        false,
    ),
    case("no /proc there", ("b", None), (7, 70), false, &[], true),
    case(
        "no /proc there, expired",
        ("b", None),
        (7, 70),
        true,
        &[],
        false,
    ),
];

#[test]
fn who_holds_a_lease() {
    let now = SystemTime::now();
    for c in CASES {
        let expires = if c.expired {
            now - MINUTE
        } else {
            now + MINUTE
        };
        let holder = Holder {
            host: c.host.into(),
            machine: c.machine.map(Into::into),
            pid: c.process.0,
            started: Some(c.process.1),
            token: 1,
            expires_ms: unix_ms(expires),
        };
        let start_of = |p: u32| c.live.iter().find(|(l, _)| *l == p).map(|(_, s)| *s);
        assert_eq!(holds(&holder, &me(), now, start_of), c.holds, "{}", c.name);
    }
}

#[test]
fn this_process_is_alive_and_a_reaped_child_is_not() {
    let me = Me::get();
    assert_eq!(process_start(me.pid), me.started);
    assert!(me.started.is_some() && me.machine.is_some());
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    assert_eq!(process_start(pid), None);
}

fn key() -> StepKey {
    StepKey::new("w", "load", RunKey::new("k1"))
}

/// Writes the lease file of `key()` in `store` as `holder` holds it.
fn plant(store: &FileStore, holder: &Holder) {
    std::fs::create_dir_all(store.dir()).unwrap();
    let text = serde_json::to_string(holder).unwrap();
    std::fs::write(store.lease_path(&key()), text).unwrap();
}

fn held_by(store: &FileStore) -> Option<Holder> {
    let text = std::fs::read_to_string(store.lease_path(&key())).unwrap();
    serde_json::from_str(text.trim()).ok()
}

/// A holder elsewhere: another machine (expiry decides) or a process of this one.
fn other(machine: Option<String>, pid: u32, started: Option<u64>, expires: SystemTime) -> Holder {
    Holder {
        host: "elsewhere".into(),
        machine,
        pid,
        started,
        token: 7,
        expires_ms: unix_ms(expires),
    }
}

#[tokio::test]
async fn two_stores_exclude_each_other_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (FileStore::new(dir.path()), FileStore::new(dir.path()));
    let held = one.lock(&key()).await.unwrap();
    let refused = two.lock(&key()).await.unwrap_err();
    let text = refused.to_string();
    assert!(matches!(refused, StoreError::Busy { .. }), "{text}");
    assert!(text.contains("another run with the same run key"), "{text}");
    assert!(
        text.contains(&format!("held by pid {}", std::process::id())),
        "{text}"
    );
    held.release().await.unwrap();
    assert_eq!(held_by(&one), None, "a released lease is free");
    let again = two.lock(&key()).await.unwrap();
    drop(again);
    assert_eq!(held_by(&two), None, "a dropped lease is given back");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(one.lease_path(&key()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn a_holder_is_taken_over_when_gone_and_refused_while_alive() {
    let machine = Me::get().machine.clone();
    let later = SystemTime::now() + MINUTE;
    let earlier = SystemTime::now() - MINUTE;
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let alive = sleeper.id();
    let alive_start = process_start(alive);
    // A process that ended, planted with its own start time: only its death frees it.
    let mut ended = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let dead = ended.id();
    let dead_start = process_start(dead);
    ended.kill().unwrap();
    ended.wait().unwrap();
    // (case, the holder, taken over)
    let cases = [
        (
            "a live process here",
            other(machine.clone(), alive, alive_start, later),
            false,
        ),
        (
            "a dead process here, lease not expired",
            other(machine.clone(), dead, dead_start, later),
            true,
        ),
        (
            "a reused pid here",
            other(machine.clone(), alive, Some(1), later),
            true,
        ),
        (
            "another machine, not expired",
            other(Some("x/y".into()), 1, None, later),
            false,
        ),
        (
            "another machine, expired",
            other(Some("x/y".into()), 1, None, earlier),
            true,
        ),
    ];
    for (case, holder, taken) in cases {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        plant(&store, &holder);
        match store.lock(&key()).await {
            Ok(lock) => {
                assert!(taken, "{case}: taken from a live holder");
                assert_eq!(held_by(&store).unwrap().pid, std::process::id(), "{case}");
                drop(lock);
            }
            Err(e) => {
                assert!(!taken, "{case}: {e}");
                assert!(e.to_string().contains("held by pid"), "{case}: {e}");
                assert_eq!(held_by(&store), Some(holder), "{case}: left as it was");
            }
        }
    }
    // The live holder's process ends: its lease is free at once.
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    plant(&store, &other(machine, alive, alive_start, later));
    store.lock(&key()).await.unwrap();
}

#[tokio::test]
async fn renewal_extends_the_lease_until_another_run_took_it_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path()).lease(MINUTE);
    let lock = store.lock(&key()).await.unwrap();
    assert_eq!(lock.renew_every(), Some(MINUTE / 3));
    let mut ours = held_by(&store).unwrap();
    ours.expires_ms -= 1_000;
    plant(&store, &ours);
    let before = ours.expires_ms;
    lock.renew().await.unwrap();
    let after = held_by(&store).unwrap();
    assert!(after.expires_ms > before);
    assert_eq!(after.pid, std::process::id());
    // Another machine took the lease over (ours had expired there): renewal says lost,
    // and neither the renewal nor the release touches the new holder's lease.
    let thief = other(Some("x/y".into()), 1, None, SystemTime::now() + MINUTE);
    plant(&store, &thief);
    let lost = lock.renew().await.unwrap_err();
    assert!(matches!(lost, StoreError::LeaseLost { .. }), "{lost}");
    lock.release().await.unwrap();
    assert_eq!(held_by(&store), Some(thief));
}

#[tokio::test]
async fn a_torn_or_empty_lease_file_is_free() {
    for text in ["", "{\"host\":\"a\",\"pi", "\n"] {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        std::fs::write(store.lease_path(&key()), text).unwrap();
        store.lock(&key()).await.unwrap();
    }
}

#[tokio::test]
async fn a_holder_is_written_over_the_old_whole_and_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path()).lease(MINUTE);
    // An expired holder elsewhere with a longer line than ours: taking its lease over
    // must leave no tail of it behind.
    let mut gone = other(Some("x/y".into()), 1, None, SystemTime::now() - MINUTE);
    gone.host = "h".repeat(300);
    plant(&store, &gone);
    let lock = store.lock(&key()).await.unwrap();
    let path = store.lease_path(&key());
    let line = |what: &str| {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{what}: {text}");
        serde_json::from_str::<Holder>(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
    };
    let taken = line("taken over");
    assert_eq!(taken.pid, std::process::id());
    lock.renew().await.unwrap();
    let renewed = line("renewed");
    assert!(renewed.expires_ms >= taken.expires_ms);
    assert_eq!(renewed.token, taken.token);
}
