//! Jobs: a `run`, `check` or `matrix` of the lab, run as a child process of the lab's own binary
//! (`lockfree-lab run spsc --json`), one at a time.
//!
//! A child process makes three promises the server could not keep in-process: a cancel is a
//! signal (SIGTERM, which the network rig turns into a teardown, then SIGKILL), a panic inside a
//! checker ends the child and not the server, and a measurement runs on the cores with nothing of
//! the server's in its way. One job at a time, because two runs on two cores spoil each other's
//! figures: a second request is refused (409) with what is running.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The environment variable that makes the lab binary print progress lines on stderr
/// (`progress: loom broken: running`): the server streams them.
pub const PROGRESS_ENV: &str = "LOCKFREE_LAB_PROGRESS";
/// The environment variable naming a file the lab binary writes a run's chart to, when the run
/// draws one (unlike `--svg`, no chart is not an error).
pub const SVG_ENV: &str = "LOCKFREE_LAB_SVG_IF_ANY";

/// Finished jobs kept for their events to be fetched again.
const KEEP: usize = 16;

/// What kind of job: it names the `result` event's `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `run DEMO --json`.
    Run,
    /// `check DEMO --json`.
    Check,
    /// `matrix --json`.
    Matrix,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Check => "check",
            Kind::Matrix => "matrix",
        }
    }
}

/// How a job ended.
#[derive(Clone, Debug)]
pub enum End {
    /// The child's JSON output, its chart, and the time it took.
    Result {
        /// The command's `--json` output.
        output: serde_json::Value,
        /// The run's chart, when it drew one.
        svg: Option<String>,
    },
    /// One line: the child's usage error, or how it crashed.
    Error(String),
    /// Cancelled by a request.
    Cancelled,
}

/// One job's state, shared by the thread that runs it and the requests that watch it.
#[derive(Debug)]
pub struct Job {
    /// Its number.
    pub id: u64,
    /// `run spsc`.
    pub what: String,
    kind: Kind,
    started: Instant,
    state: Mutex<JobState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct JobState {
    lines: Vec<String>,
    end: Option<End>,
    elapsed: Option<Duration>,
    pid: Option<u32>,
    cancelled: bool,
}

/// One event of a job's stream, as the SSE endpoint writes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Still running: the elapsed time and a progress line (empty for a heartbeat).
    Progress {
        /// Since the job started.
        elapsed_ms: u128,
        /// The child's progress line, or empty.
        line: String,
    },
    /// The last event: `result`, `error` or `cancelled`, with its JSON data.
    End {
        /// `result`, `error` or `cancelled`.
        name: &'static str,
        /// The event's data.
        data: serde_json::Value,
    },
}

impl Job {
    /// Waits up to `timeout` for something after the `seen` progress lines, and returns the new
    /// events: the new lines (or one heartbeat), then the end if the job has ended.
    pub fn events_after(&self, seen: usize, timeout: Duration) -> (Vec<Event>, usize) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (state, _) = self
            .changed
            .wait_timeout_while(state, timeout, |s| s.lines.len() <= seen && s.end.is_none())
            .unwrap_or_else(|p| p.into_inner());
        let elapsed_ms = state.elapsed.unwrap_or_else(|| self.started.elapsed()).as_millis();
        let mut events: Vec<Event> = state.lines[seen.min(state.lines.len())..]
            .iter()
            .map(|line| Event::Progress {
                elapsed_ms,
                line: line.clone(),
            })
            .collect();
        if events.is_empty() && state.end.is_none() {
            events.push(Event::Progress {
                elapsed_ms,
                line: String::new(),
            });
        }
        if let Some(end) = &state.end {
            events.push(match end {
                End::Result { output, svg } => Event::End {
                    name: "result",
                    data: serde_json::json!({
                        "kind": self.kind.name(),
                        "output": output,
                        "svg": svg,
                        "elapsed_ms": elapsed_ms,
                    }),
                },
                End::Error(e) => Event::End {
                    name: "error",
                    data: serde_json::json!({ "error": e }),
                },
                End::Cancelled => Event::End {
                    name: "cancelled",
                    data: serde_json::json!({}),
                },
            });
        }
        (events, state.lines.len())
    }

    /// Whether it has ended.
    pub fn ended(&self) -> bool {
        self.lock().end.is_some()
    }

    /// Since it started.
    pub fn elapsed(&self) -> Duration {
        self.lock().elapsed.unwrap_or_else(|| self.started.elapsed())
    }

    /// Asks the child to stop: SIGTERM now (the network rig tears down on it), SIGKILL after 2 s.
    /// False when the job had already ended.
    pub fn cancel(self: &Arc<Self>) -> bool {
        let pid = {
            let mut s = self.lock();
            if s.end.is_some() {
                return false;
            }
            s.cancelled = true;
            s.pid
        };
        if let Some(pid) = pid {
            signal(pid, libc::SIGTERM);
            let job = Arc::clone(self);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(2));
                if !job.ended() {
                    signal(pid, libc::SIGKILL);
                }
            });
        }
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JobState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut JobState)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return };
    // SAFETY: kill has no memory-safety preconditions; at worst it fails with ESRCH for a child
    // that has already exited (it is not reaped until the job thread's wait returns, so the pid
    // cannot have been reused by then).
    unsafe {
        libc::kill(pid, sig);
    }
}

/// The job table: the running job, if any, and the last few finished ones.
#[derive(Debug)]
pub struct Jobs {
    exe: PathBuf,
    inner: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    next: u64,
    running: Option<Arc<Job>>,
    done: VecDeque<Arc<Job>>,
}

/// Why a job was not started.
#[derive(Debug)]
pub enum Refused {
    /// Another job is running.
    Busy(Arc<Job>),
}

impl Jobs {
    /// A table that runs jobs with the lab binary `exe`.
    pub fn new(exe: PathBuf) -> Self {
        Self {
            exe,
            inner: Mutex::new(Table::default()),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The running job.
    pub fn running(&self) -> Option<Arc<Job>> {
        let mut t = self.table();
        if t.running.as_ref().is_some_and(|j| j.ended()) {
            let job = t.running.take().expect("checked");
            t.done.push_back(job);
        }
        t.running.clone()
    }

    /// Job `id`, running or among the last finished.
    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        let t = self.table();
        t.running.iter().chain(t.done.iter()).find(|j| j.id == id).cloned()
    }

    /// Starts `lockfree-lab ARGS --json` as job `what`, unless a job is running.
    pub fn start(self: &Arc<Self>, kind: Kind, what: String, args: Vec<String>) -> Result<Arc<Job>, Refused> {
        let job = {
            let mut t = self.table();
            if let Some(running) = &t.running {
                if !running.ended() {
                    return Err(Refused::Busy(Arc::clone(running)));
                }
            }
            if let Some(old) = t.running.take() {
                t.done.push_back(old);
            }
            while t.done.len() > KEEP {
                t.done.pop_front();
            }
            t.next += 1;
            let job = Arc::new(Job {
                id: t.next,
                what,
                kind,
                started: Instant::now(),
                state: Mutex::new(JobState::default()),
                changed: Condvar::new(),
            });
            t.running = Some(Arc::clone(&job));
            job
        };
        let exe = self.exe.clone();
        let runner = Arc::clone(&job);
        std::thread::spawn(move || supervise(&exe, &runner, args));
        Ok(job)
    }
}

/// Runs the child to its end and records how it ended.
fn supervise(exe: &std::path::Path, job: &Arc<Job>, args: Vec<String>) {
    let svg_path = std::env::temp_dir().join(format!("lockfree-lab-serve-{}-{}.svg", std::process::id(), job.id));
    let _ = std::fs::remove_file(&svg_path);
    let mut cmd = Command::new(exe);
    cmd.args(&args)
        .arg("--json")
        .env(PROGRESS_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if job.kind == Kind::Run {
        cmd.env(SVG_ENV, &svg_path);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            job.update(|s| {
                s.end = Some(End::Error(format!("cannot start {}: {e}", exe.display())));
                s.elapsed = Some(job.started.elapsed());
            });
            return;
        }
    };
    let pid = child.id();
    let cancelled_early = {
        let mut s = job.lock();
        s.pid = Some(pid);
        s.cancelled
    };
    if cancelled_early {
        signal(pid, libc::SIGTERM);
    }
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        let _ = BufReader::new(stdout).read_to_string(&mut buf);
        buf
    });
    let mut last_lines: VecDeque<String> = VecDeque::new();
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if let Some(progress) = line.strip_prefix("progress: ") {
            let progress = progress.to_string();
            job.update(|s| s.lines.push(progress));
        } else if !line.trim().is_empty() {
            last_lines.push_back(line);
            if last_lines.len() > 40 {
                last_lines.pop_front();
            }
        }
    }
    let status = child.wait();
    let stdout = out_reader.join().unwrap_or_default();
    let elapsed = job.started.elapsed();
    let cancelled = job.lock().cancelled;
    let end = if cancelled {
        End::Cancelled
    } else {
        match status {
            Ok(st) if st.success() => match serde_json::from_str(&stdout) {
                Ok(output) => End::Result {
                    output,
                    svg: std::fs::read_to_string(&svg_path).ok(),
                },
                Err(e) => End::Error(format!("the lab printed no JSON ({e})")),
            },
            Ok(st) => End::Error(failure_line(&last_lines, st)),
            Err(e) => End::Error(format!("lost the child process: {e}")),
        }
    };
    let _ = std::fs::remove_file(&svg_path);
    job.update(|s| {
        s.end = Some(end);
        s.elapsed = Some(elapsed);
    });
}

/// One line saying why the child failed: its usage error (its last line), or its panic message.
fn failure_line(lines: &VecDeque<String>, status: std::process::ExitStatus) -> String {
    if let Some(i) = lines.iter().position(|l| l.contains("panicked at")) {
        let message = lines.get(i + 1).map(|m| m.trim()).unwrap_or("");
        return format!("the run crashed ({}): {message}", lines[i].trim());
    }
    match lines.back() {
        Some(last) if status.code() == Some(2) => last.trim().trim_start_matches("error: ").to_string(),
        Some(last) => format!("the run failed ({status}): {}", last.trim()),
        None => format!("the run failed ({status})"),
    }
}

#[cfg(test)]
mod tests {
    use super::failure_line;
    use std::collections::VecDeque;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    #[test]
    fn a_usage_error_is_its_own_line_and_a_panic_names_its_message() {
        let usage: VecDeque<String> = ["error: demo `spsc` takes --capacity as a power of two".to_string()].into();
        assert_eq!(
            failure_line(&usage, ExitStatus::from_raw(2 << 8)),
            "demo `spsc` takes --capacity as a power of two"
        );
        let panic: VecDeque<String> = [
            "thread 'main' panicked at src/x.rs:3:5:".to_string(),
            "boom".to_string(),
            "note: run with RUST_BACKTRACE=1".to_string(),
        ]
        .into();
        let line = failure_line(&panic, ExitStatus::from_raw(101 << 8));
        assert!(line.starts_with("the run crashed") && line.ends_with("boom"), "{line}");
    }
}
