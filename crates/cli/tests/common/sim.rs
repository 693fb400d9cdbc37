//! A `runwait sim` process on 127.0.0.1, stopped when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

/// A standalone simulator with a scenario file.
pub struct SimProcess {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Kept open: the simulator prints more lines, and a closed pipe would kill it.
    _stdout: BufReader<ChildStdout>,
}

impl SimProcess {
    /// Starts `runwait sim --scenario SCENARIO` at full speed times `speed`.
    pub fn start(scenario: &Path, speed: &str) -> SimProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_runwait"))
            .args([
                "sim",
                "--listen",
                "127.0.0.1:0",
                "--speed",
                speed,
                "--scenario",
            ])
            .arg(scenario)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
        SimProcess {
            child,
            addr,
            _stdout: stdout,
        }
    }

    /// One HTTP/1.0 request over a plain socket: the status line, and the body.
    pub fn request(&self, head: &str, body: &str) -> (String, String) {
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "{head}\r\nHost: {}\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        let (status, rest) = reply.split_once("\r\n").unwrap_or_default();
        let body = rest.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status.to_owned(), body.to_owned())
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
