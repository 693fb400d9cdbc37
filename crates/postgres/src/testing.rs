//! A throwaway PostgreSQL server for tests (the `testing` feature): `initdb` in a
//! temporary directory, `postgres` listening on 127.0.0.1 on a free port, one per test
//! process, stopped when the process ends (a watchdog shell stops it and removes its
//! directory when the test process is gone, so nothing outlives the tests). Each test asks for its own database.
//!
//! The server binaries come from Debian's `postgresql` package
//! (`/usr/lib/postgresql/<version>/bin`). `initdb` refuses to run as root, so as root
//! (CI and the dev machines) the server runs as the `postgres` user the package creates
//! (`runuser -u postgres`). When no server can be started, [`TestServer::shared`] panics
//! saying how to get one: no test passes by skipping.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::url::PgUrl;

/// A running server of this test process.
#[derive(Debug)]
pub struct TestServer {
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

static SERVER: OnceLock<TestServer> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

impl TestServer {
    /// The server of this test process, started on first use.
    ///
    /// # Panics
    ///
    /// When no server can be started, with what to install.
    pub fn shared() -> &'static TestServer {
        SERVER.get_or_init(|| TestServer::start().unwrap_or_else(|e| panic!("{e}")))
    }

    /// A new, empty database on the server (for one test), as a URL.
    ///
    /// # Panics
    ///
    /// When `createdb` fails.
    pub fn database(&self) -> PgUrl {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        let out = self
            .command("createdb")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg(&name)
            .output()
            .expect("createdb runs");
        assert!(
            out.status.success(),
            "createdb {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
            .parse()
            .expect("a valid URL")
    }

    /// A URL of a server that does not run (a closed port), for the unreachable case.
    pub fn unreachable() -> PgUrl {
        let port = free_port().expect("a free port");
        format!("postgres://runwait:hunter2@127.0.0.1:{port}/nowhere?connect_timeout=2")
            .parse()
            .expect("a valid URL")
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn start() -> Result<TestServer, String> {
        let bin = find_bin().ok_or_else(|| {
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install them \
             (Debian: apt-get install -y postgresql) to run the PostgreSQL tests"
                .to_owned()
        })?;
        let as_postgres = is_root();
        // Kept past this process: the watchdog removes it after the server stopped.
        let root = tempfile::Builder::new()
            .prefix("runwait-pg-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?
            .keep();
        let port = free_port().map_err(|e| format!("a free port: {e}"))?;
        let server = TestServer {
            port,
            bin,
            as_postgres,
        };
        if as_postgres {
            run(
                Command::new("chown").args(["postgres:"]).arg(&root),
                "chown",
            )?;
        }
        let data = root.join("data");
        run(
            server
                .command("initdb")
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(&data)
                .stdout(Stdio::null()),
            "initdb",
        )?;
        server.spawn(&root, &data)?;
        server.wait_ready(&root)?;
        Ok(server)
    }

    /// Starts `postgres` under a watchdog that stops it (fast shutdown) once this test
    /// process is gone.
    fn spawn(&self, root: &Path, data: &Path) -> Result<(), String> {
        let postgres = self.bin.join("postgres");
        let launch = if self.as_postgres {
            "runuser -u postgres -- \"$PG\" -D \"$DATA\" -p \"$PORT\" -k \"$ROOT\" \
             -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 &"
        } else {
            "\"$PG\" -D \"$DATA\" -p \"$PORT\" -k \"$ROOT\" \
             -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 &"
        };
        let script = format!(
            "{launch}
             while kill -0 \"$OWNER\" 2>/dev/null; do sleep 1; done
             kill -INT \"$(head -n1 \"$DATA/postmaster.pid\")\" 2>/dev/null
             wait
             rm -rf \"$ROOT\""
        );
        let log = std::fs::File::create(root.join("server.log"))
            .map_err(|e| format!("server log: {e}"))?;
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PG", postgres)
            .env("DATA", data)
            .env("ROOT", root)
            .env("PORT", self.port.to_string())
            .env("OWNER", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting postgres: {e}"))?;
        Ok(())
    }

    fn wait_ready(&self, root: &Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = self
                .command("pg_isready")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(root.join("server.log")).unwrap_or_default();
                return Err(format!("postgres did not start within 60 s:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`.
fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("{what} could not run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
