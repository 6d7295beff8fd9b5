//! `tierwatch` as a process, started as an operator starts it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `tierwatch` binary of this build, run from the repository root, with
/// none of the operator's GitHub or database variables inherited.
pub fn tierwatch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tierwatch"));
    c.current_dir(super::root());
    for var in ["TIERWATCH_GITHUB_REPO", "TIERWATCH_GITHUB_TOKEN", "TIERWATCH_GITHUB_API_URL", "DATABASE_URL"] {
        c.env_remove(var);
    }
    c
}

/// `tierwatch serve` with `args` (after `serve --bind 127.0.0.1:0`) and
/// `TIERWATCH_GITHUB_TOKEN=github_token`; the process and its base URL,
/// read from what it prints (its logs, also on stdout, are drained).
pub fn serve(args: &[&str], github_token: &str) -> (Killed, String) {
    let mut child = tierwatch()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .env("TIERWATCH_GITHUB_TOKEN", github_token)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let server = Killed(child);
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("serve prints its address").expect("a line");
        if let Some(addr) = line.trim().strip_prefix("tierwatch serving on ") {
            break addr.to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (server, base)
}
