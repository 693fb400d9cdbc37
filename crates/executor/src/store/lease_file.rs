//! [`FileLease`]: the lock of a step run in a [`FileStore`](super::FileStore), a lease
//! file `<stem>.lease` that is not held open. Each take, renewal and release opens the
//! file, holds an OS lock (`flock`) on it for the few microseconds it reads and writes
//! the holder, and closes it; so a process holds no file descriptor per waiting step.
//!
//! Who holds a lease: the holder's process (host name, pid, the process's start time),
//! the machine it runs on (the boot id and the pid namespace, on Linux), a token of the
//! one lease, and a wall-clock expiry renewed by the engine every third of the lease.
//! A holder is gone, and the lease free at once, when it ran on this machine and its
//! process is gone (`/proc/PID/stat` missing or a zombie, or a different start time:
//! the pid was reused) or the machine was rebooted. A holder on another machine (a
//! shared volume) is gone when its lease has expired, by the wall clocks of both, which
//! must agree to within a small part of the lease. A released lease is an empty file
//! (never removed: a process may have it open, about to lock it).
//!
//! Liveness is read from `/proc` rather than with `kill(pid, 0)`: the workspace forbids
//! `unsafe`, and `/proc` gives the start time that guards against a reused pid. Where
//! there is no `/proc`, every holder counts as on another machine: expiry only.

use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::blocking::blocking;
use super::file::FileStore;
use super::{StepKey, StepLock, StoreError, io_error};
use crate::atomic::{create_private_dir_all, private_file};

/// What a lease file holds while taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Holder {
    /// The holder's host name (for messages; the machine decides liveness).
    pub(super) host: String,
    /// The holder's process table (boot id and pid namespace); `None` where unknown.
    pub(super) machine: Option<String>,
    /// The holder's process id.
    pub(super) pid: u32,
    /// The holder process's start time (clock ticks since boot), guarding a reused pid.
    pub(super) started: Option<u64>,
    /// This lease among the holder's: a renewal or release only touches its own.
    pub(super) token: u64,
    /// When the lease runs out unless renewed, in milliseconds since the Unix epoch.
    pub(super) expires_ms: u64,
}

/// This process, as a lease names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Me {
    host: String,
    machine: Option<String>,
    pid: u32,
    started: Option<u64>,
}

impl Me {
    /// This process (read once).
    fn get() -> &'static Me {
        static ME: OnceLock<Me> = OnceLock::new();
        ME.get_or_init(|| {
            let pid = std::process::id();
            Me {
                host: read_trimmed("/proc/sys/kernel/hostname").unwrap_or_else(|| "?".into()),
                machine: machine(),
                pid,
                started: process_start(pid),
            }
        })
    }

    fn holder(&self, token: u64, expires: SystemTime) -> Holder {
        Holder {
            host: self.host.clone(),
            machine: self.machine.clone(),
            pid: self.pid,
            started: self.started,
            token,
            expires_ms: unix_ms(expires),
        }
    }
}

/// Whether `holder` still holds its lease at `now`, seen from `me`; `start_of(pid)` is
/// the start time of a live process on this machine, `None` for none.
pub(super) fn holds(
    holder: &Holder,
    me: &Me,
    now: SystemTime,
    start_of: impl Fn(u32) -> Option<u64>,
) -> bool {
    match (&holder.machine, &me.machine) {
        (Some(theirs), Some(ours)) if theirs == ours => {
            start_of(holder.pid).is_some_and(|s| holder.started.is_none_or(|h| h == s))
        }
        // The same host name on another boot: the machine restarted since.
        (Some(theirs), Some(ours)) if holder.host == me.host && boot(theirs) != boot(ours) => false,
        _ => unix_ms(now) < holder.expires_ms,
    }
}

/// The boot id part of a machine.
fn boot(machine: &str) -> &str {
    machine.split_once('/').map_or(machine, |(b, _)| b)
}

/// A step run held through its lease file.
#[derive(Debug)]
pub(super) struct FileLease(Arc<Lease>);

/// What a held lease knows; shared with the blocking pool for a renewal.
#[derive(Debug)]
struct Lease {
    key: StepKey,
    /// The store, whose [`FileStore::lease_path`] of `key` is the lease's file: a path
    /// kept here would be a hundred bytes more for every waiting step.
    store: FileStore,
    token: u64,
    /// Released (or found lost): nothing left to give back on drop.
    done: AtomicBool,
}

impl FileLease {
    /// Takes the step run `key` in `store` for the store's lease, or says who holds it.
    pub(super) fn take(key: &StepKey, store: &FileStore) -> Result<Self, StoreError> {
        let path = store.lease_path(key);
        let lease = store.lease_duration();
        if let Some(dir) = path.parent() {
            create_private_dir_all(dir).map_err(io_error(&path))?;
        }
        let me = Me::get();
        let token = new_token();
        let mut file = private_file()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error(&path))?;
        file.lock().map_err(io_error(&path))?;
        let now = SystemTime::now();
        if let Some(holder) = read_holder(&mut file).map_err(io_error(&path))?
            && holds(&holder, me, now, process_start)
        {
            let left = holder.expires_ms.saturating_sub(unix_ms(now)) / 1000;
            return Err(StoreError::Busy {
                location: format!(
                    "{} (held by pid {} on {}, lease runs out in {left}s unless renewed)",
                    path.display(),
                    holder.pid,
                    holder.host
                ),
            });
        }
        write_holder(&mut file, &me.holder(token, now + lease)).map_err(io_error(&path))?;
        Ok(FileLease(Arc::new(Lease {
            key: key.clone(),
            store: store.clone(),
            token,
            done: AtomicBool::new(false),
        })))
    }
}

impl Lease {
    /// Under the file's lock: whether the lease is still this one's, and if so `then`
    /// with the open file.
    fn if_mine(
        &self,
        then: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
    ) -> Result<bool, StoreError> {
        let path = self.path();
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_error(&path)(e)),
        };
        file.lock().map_err(io_error(&path))?;
        let mine = read_holder(&mut file)
            .map_err(io_error(&path))?
            .is_some_and(|h| h.token == self.token && h.pid == Me::get().pid);
        if mine {
            then(&mut file).map_err(io_error(&path))?;
        }
        Ok(mine)
    }

    fn path(&self) -> PathBuf {
        self.store.lease_path(&self.key)
    }

    fn renew_blocking(&self) -> Result<(), StoreError> {
        let holder = Me::get().holder(self.token, SystemTime::now() + self.store.lease_duration());
        // Still ours, even if its time ran out: nobody took it over meanwhile.
        if self.if_mine(|file| write_holder(file, &holder))? {
            Ok(())
        } else {
            self.done.store(true, Ordering::Relaxed);
            Err(StoreError::LeaseLost {
                key: self.key.clone(),
                location: self.path().display().to_string(),
            })
        }
    }

    fn release_blocking(&self) -> Result<(), StoreError> {
        if self.done.swap(true, Ordering::Relaxed) {
            return Ok(());
        }
        self.if_mine(|file| file.set_len(0)).map(drop)
    }
}

#[async_trait]
impl StepLock for FileLease {
    fn key(&self) -> &StepKey {
        &self.0.key
    }

    fn renew_every(&self) -> Option<Duration> {
        Some(self.0.store.lease_duration() / 3)
    }

    async fn renew(&self) -> Result<(), StoreError> {
        blocking(|| {
            let lease = self.0.clone();
            move || lease.renew_blocking()
        })
        .await
    }

    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        blocking(|| {
            let lease = self.0.clone();
            move || lease.release_blocking()
        })
        .await
    }
}

impl Drop for FileLease {
    /// A lease dropped without [`release`](StepLock::release) (the step's future was
    /// dropped) is given back here: one brief open, lock and truncate.
    fn drop(&mut self) {
        if let Err(e) = self.0.release_blocking() {
            tracing::warn!(error = %e, "could not give back the lease of a step run");
        }
    }
}

/// The holder in an open lease file; `None` when it is free (empty, or not one holder's
/// line: cut short, or a shorter line left before the old one's tail, by a writer that
/// died mid-write, which holds nothing any more).
fn read_holder(file: &mut std::fs::File) -> std::io::Result<Option<Holder>> {
    let mut text = String::new();
    file.rewind()?;
    file.read_to_string(&mut text)?;
    Ok(serde_json::from_str(text.trim()).ok())
}

/// Replaces the holder in place (the file's lock is held, so nobody reads half of it).
/// The line is written over the old one and the file cut only where the old was longer:
/// a renewal changes only the expiry, which keeps its width (13 digits until 2286), so
/// it cuts nothing. Cut to nothing and written again, the file's block is freed and
/// allocated again each time: on ext4 that was three times the system time of a renewal
/// (`lease_cost` bench: 41–47 µs against 12–16 µs a renewal). A line written over
/// another of its length is never read half old, half new: it is one `write` under the
/// lock, and it lies in the file's first 512 bytes (a host name is at most 64), which a
/// disk writes whole.
fn write_holder(file: &mut std::fs::File, holder: &Holder) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(holder).map_err(std::io::Error::other)?;
    line.push(b'\n');
    file.rewind()?;
    file.write_all(&line)?;
    let len = line.len() as u64;
    if file.metadata()?.len() > len {
        file.set_len(len)?;
    }
    Ok(())
}

/// A token no other lease of this process has, and unlikely in any other process.
fn new_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static BASE: OnceLock<u64> = OnceLock::new();
    let base = *BASE.get_or_init(|| fastrand::u64(..));
    base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

fn unix_ms(at: SystemTime) -> u64 {
    runwait_core::EpochMillis::from_system_time(at).0
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// `<boot id>/<pid namespace>`: processes that see the same value share a process
/// table. `None` without `/proc`.
fn machine() -> Option<String> {
    let boot = read_trimmed("/proc/sys/kernel/random/boot_id")?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{boot}/{}", ns.display()))
}

/// The start time of the live process `pid` (field 22 of `/proc/PID/stat`); `None` when
/// there is no such process or it is a zombie (killed, not yet reaped).
pub(super) fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name (field 2) is in parentheses and may hold spaces and parentheses.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?;
    if matches!(state, "Z" | "X" | "x") {
        return None;
    }
    // Fields 4 to 21 come before the start time, field 22.
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
#[path = "lease_file_tests.rs"]
mod tests;
