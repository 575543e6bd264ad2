//! `lockfree-lab serve`: the lab in a browser, on 127.0.0.1 only.
//!
//! The page (`assets/`, embedded in the binary) is the seed site's face; everything it shows
//! comes from the lab itself:
//! - `run`, `check` and `matrix` are [`jobs`]: the lab's own binary as a child process, one at a
//!   time, with progress streamed as Server-Sent Events and a cancel that is a signal;
//! - the trace view, the replay and the "you are the scheduler" game are quick and run in-process,
//!   each request inside `catch_unwind`, so a panicking checker is a 500 and the server goes on.
//!
//! Every request is validated here with the command line's own rules (the same [`UsageError`]
//! lines), so a bad parameter is a 400 with one line before any job starts. The server reads no
//! file a request names: the assets are compiled in, and the bench report has one fixed path.
//!
//! A synchronous server fits the lab: a thread per request (this is a single user on localhost),
//! and the measuring threads of a run live in another process, pinned, with nothing of the
//! server's on their cores but an idle accept loop.

pub mod jobs;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::lab::{self, registry, Case, Demo, Group, Mode, Threads, UsageError, Variant, Variants};
use jobs::{Event, Jobs, Kind, Refused};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// The largest request body the server reads.
const MAX_BODY: u64 = 64 * 1024;

/// How the server starts.
#[derive(Clone, Debug)]
pub struct Config {
    /// The port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// The lab binary jobs run as child processes (`std::env::current_exe()`, or in tests
    /// `env!("CARGO_BIN_EXE_lockfree-lab")`).
    pub exe: PathBuf,
}

/// A running server: its address, and a way to stop it.
#[allow(missing_debug_implementations)]
pub struct Handle {
    server: Arc<Server>,
    port: u16,
    accept: Option<std::thread::JoinHandle<()>>,
    jobs: Arc<Jobs>,
}

impl Handle {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }

    /// Stops accepting requests and cancels the running job.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(job) = self.jobs.running() {
            job.cancel();
        }
        self.server.unblock();
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds 127.0.0.1:`port` and serves the lab on a background thread.
pub fn start(config: Config) -> std::io::Result<Handle> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
    let server = Arc::new(Server::http(addr).map_err(|e| std::io::Error::other(e.to_string()))?);
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .ok_or_else(|| std::io::Error::other("the server has no IP address"))?;
    let jobs = Arc::new(Jobs::new(config.exe));
    let accept = {
        let server = Arc::clone(&server);
        let jobs = Arc::clone(&jobs);
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let jobs = Arc::clone(&jobs);
                std::thread::spawn(move || handle(request, &jobs));
            }
        })
    };
    Ok(Handle {
        server,
        port,
        accept: Some(accept),
        jobs,
    })
}

/// An answer: a status and a JSON body (or a page).
struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
}

impl Reply {
    fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: value.to_string(),
        }
    }

    fn error(status: u16, message: impl std::fmt::Display) -> Self {
        Self::json(status, &json!({ "error": message.to_string() }))
    }

    fn asset(content_type: &'static str, body: &str) -> Self {
        Self {
            status: 200,
            content_type,
            body: body.to_string(),
        }
    }
}

impl From<UsageError> for Reply {
    fn from(e: UsageError) -> Self {
        let status = if e.0.starts_with("unknown demo") { 404 } else { 400 };
        Reply::error(status, e)
    }
}

fn handle(mut request: Request, jobs: &Arc<Jobs>) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let path = path.to_string();
    let query = query.to_string();
    let method = request.method().clone();
    // The event stream writes its own response, as events happen.
    if method == Method::Get {
        if let Some(id) = job_route(&path, "/events") {
            return stream_events(request, jobs, id);
        }
    }
    let body = match read_body(&mut request) {
        Ok(b) => b,
        Err(reply) => return respond(request, reply),
    };
    let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        route(&method, &path, &query, &body, jobs)
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into());
        Reply::error(500, format!("the lab panicked answering {path}: {message}"))
    });
    respond(request, reply);
}

fn read_body(request: &mut Request) -> Result<Value, Reply> {
    if *request.method() != Method::Post {
        return Ok(Value::Null);
    }
    let mut text = String::new();
    request
        .as_reader()
        .take(MAX_BODY + 1)
        .read_to_string(&mut text)
        .map_err(|e| Reply::error(400, format!("cannot read the request body: {e}")))?;
    if text.len() as u64 > MAX_BODY {
        return Err(Reply::error(400, format!("the request body is over {MAX_BODY} bytes")));
    }
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(&text).map_err(|e| Reply::error(400, format!("the request body is not JSON: {e}")))
}

fn respond(request: Request, reply: Reply) {
    let header =
        Header::from_bytes("Content-Type", format!("{}; charset=utf-8", reply.content_type)).expect("a valid header");
    let response = Response::from_string(reply.body)
        .with_status_code(reply.status)
        .with_header(header)
        .with_header(Header::from_bytes("Cache-Control", "no-store").expect("a valid header"));
    let _ = request.respond(response);
}

/// `/api/jobs/{id}{suffix}` → `id`.
fn job_route(path: &str, suffix: &str) -> Option<u64> {
    path.strip_prefix("/api/jobs/")?.strip_suffix(suffix)?.parse().ok()
}

fn route(method: &Method, path: &str, query: &str, body: &Value, jobs: &Arc<Jobs>) -> Reply {
    match (method, path) {
        (Method::Get, "/" | "/index.html") => Reply::asset("text/html", INDEX_HTML),
        (Method::Get, "/assets/app.js") => Reply::asset("text/javascript", APP_JS),
        (Method::Get, "/assets/app.css") => Reply::asset("text/css", APP_CSS),
        (Method::Get, "/api/demos") => Reply::json(200, &catalogue()),
        (Method::Get, "/api/status") => Reply::json(200, &status(jobs)),
        (Method::Post, "/api/run") => start_job(jobs, run_request(body)),
        (Method::Post, "/api/check") => start_job(jobs, check_request(body)),
        (Method::Post, "/api/matrix") => start_job(jobs, Ok((Kind::Matrix, "matrix".into(), vec!["matrix".into()]))),
        (Method::Post, p) if job_route(p, "/cancel").is_some() => {
            let id = job_route(p, "/cancel").expect("matched");
            match jobs.get(id) {
                Some(job) => Reply::json(200, &json!({ "cancelled": job.cancel() })),
                None => Reply::error(404, format!("no job {id}")),
            }
        }
        (Method::Get, "/api/replay") => quick(query, |demo, case| {
            let replay = lab::replay(demo, case_variant(case))?;
            Ok(serde_json::to_value(replay).expect("serializes"))
        }),
        (Method::Get, "/api/trace") => quick(query, |demo, case| {
            Ok(serde_json::to_value(lab::trace_view(demo, case)?).expect("serializes"))
        }),
        (Method::Post, "/api/schedule") => schedule(body),
        (Method::Get, "/api/schedule/hint") => {
            quick(query, |demo, case| Ok(json!({ "choices": lab::hint(demo, case)? })))
        }
        (Method::Get, "/api/bench-report") => bench_report(),
        (Method::Get, p) if p.starts_with("/bench-report-charts/") => bench_chart(p),
        (_, p) if p.starts_with("/api/") => Reply::error(404, format!("no route {method} {p}")),
        (Method::Get, p) => Reply::error(404, format!("no page {p}: the lab is at /")),
        _ => Reply::error(405, format!("{method} is not accepted here")),
    }
}

fn case_variant(case: Case) -> Variant {
    match case {
        Case::Variant(v) => v,
        Case::Mode(_) => Variant::Broken,
    }
}

/// Parses `demo=NAME&variant=broken|fixed|ORDERING` (broken without a variant) and runs `f` on
/// the demo and its case.
fn quick(query: &str, f: impl FnOnce(&'static dyn Demo, Case) -> Result<Value, UsageError>) -> Reply {
    let mut demo = None;
    let mut variant = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "demo" => demo = Some(v.to_string()),
            "variant" => variant = Some(v.to_string()),
            other => {
                return Reply::error(
                    400,
                    format!("unknown query parameter `{}` (accepted: demo, variant)", escape(other)),
                )
            }
        }
    }
    let Some(name) = demo else {
        return Reply::error(400, "give the demo: ?demo=NAME&variant=broken|fixed");
    };
    let result = registry::find(&name).and_then(|demo| {
        let case = lab::parse_case(demo, variant.as_deref().filter(|v| !v.is_empty()).unwrap_or("broken"))?;
        f(demo, case)
    });
    match result {
        Ok(v) => Reply::json(200, &v),
        Err(e) => e.into(),
    }
}

/// `POST /api/schedule`: `{"demo", "variant", "choices": [1, 2, ...]}` → the game's state.
fn schedule(body: &Value) -> Reply {
    let run = || -> Result<Value, Reply> {
        if !body.is_object() {
            return Err(Reply::error(400, "the request body must be a JSON object"));
        }
        let name = str_field(body, "demo")?.ok_or_else(|| Reply::error(400, "give the demo: {\"demo\": \"NAME\"}"))?;
        let demo = registry::find(name)?;
        let case = lab::parse_case(demo, str_field(body, "variant")?.unwrap_or("broken"))?;
        let choices = match body.get("choices") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) if a.len() <= MAX_CHOICES => a
                .iter()
                .map(|c| c.as_u64().filter(|&t| (1..=8).contains(&t)).map(|t| t as usize))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Reply::error(400, "`choices` must be thread numbers (1, 2, ...)"))?,
            Some(_) => {
                return Err(Reply::error(
                    400,
                    format!("`choices` must be a list of at most {MAX_CHOICES} thread numbers"),
                ))
            }
        };
        let play = lab::play(demo, case, &choices)?;
        Ok(serde_json::to_value(play).expect("a play serializes"))
    };
    match run() {
        Ok(v) => Reply::json(200, &v),
        Err(reply) => reply,
    }
}

/// The longest schedule the game replays.
const MAX_CHOICES: usize = 512;

fn escape(s: &str) -> String {
    crate::cli::escape_controls(&s.chars().take(80).collect::<String>())
}

fn parse_variant(v: Option<&str>) -> Result<Option<Variant>, Reply> {
    match v {
        None | Some("") | Some("all") => Ok(None),
        Some("broken") => Ok(Some(Variant::Broken)),
        Some("fixed") => Ok(Some(Variant::Fixed)),
        Some(other) => Err(Reply::error(
            400,
            format!("variant `{}` is not one of: broken, fixed", escape(other)),
        )),
    }
}

fn str_field<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, Reply> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Reply::error(400, format!("`{name}` must be a string (got {other})"))),
    }
}

/// A whole number field in `lo..=hi`, given as a number or a string of digits.
fn number_field(body: &Value, name: &str, lo: u64, hi: u64) -> Result<Option<u64>, Reply> {
    let bad = |got: &Value| {
        Reply::error(
            400,
            format!("`{name}` must be a whole number from {lo} to {hi} (got {got})"),
        )
    };
    let v = match body.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(v @ Value::Number(n)) => n.as_u64().ok_or_else(|| bad(v))?,
        Some(v @ Value::String(s)) => s.trim().replace('_', "").parse::<u64>().map_err(|_| bad(v))?,
        Some(other) => return Err(bad(other)),
    };
    if (lo..=hi).contains(&v) {
        Ok(Some(v))
    } else {
        Err(bad(&json!(v)))
    }
}

/// The demo, its variant and ordering as the command line would take them, checked.
fn demo_and_cases(body: &Value) -> Result<(&'static dyn Demo, Vec<String>), Reply> {
    if !body.is_object() {
        return Err(Reply::error(400, "the request body must be a JSON object"));
    }
    let name = str_field(body, "demo")?.ok_or_else(|| Reply::error(400, "give the demo: {\"demo\": \"NAME\"}"))?;
    let demo = registry::find(name)?;
    let variant = parse_variant(str_field(body, "variant")?)?;
    let ordering = match str_field(body, "ordering")? {
        None | Some("") | Some("all") => None,
        Some(o) => Some(Mode::ALL.into_iter().find(|m| m.name() == o).ok_or_else(|| {
            let names: Vec<&str> = demo.spec().orderings().iter().map(|m| m.name()).collect();
            Reply::error(
                400,
                format!(
                    "ordering `{}` is not one of: {}",
                    escape(o),
                    if names.is_empty() {
                        "(this demo takes no ordering)".into()
                    } else {
                        names.join(", ")
                    }
                ),
            )
        })?),
    };
    lab::cases(demo, variant, ordering)?;
    let mut args = vec![name.to_string()];
    if let Some(v) = variant {
        args.extend(["--variant".into(), v.name().into()]);
    }
    if let Some(m) = ordering {
        args.extend(["--ordering".into(), m.name().into()]);
    }
    Ok((demo, args))
}

type JobRequest = Result<(Kind, String, Vec<String>), Reply>;

fn run_request(body: &Value) -> JobRequest {
    let (demo, mut args) = demo_and_cases(body)?;
    let spec = demo.spec();
    let threads = number_field(body, "threads", 1, 64)?;
    let iterations = number_field(body, "iterations", 1, 1_000_000_000)?;
    let pin = match body.get("pin") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(Reply::error(400, format!("`pin` must be true or false (got {other})"))),
    };
    let mut given = Vec::new();
    match body.get("params") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let value = match value {
                    Value::Bool(false) | Value::Null => continue,
                    Value::Bool(true) => None,
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    other => {
                        return Err(Reply::error(
                            400,
                            format!(
                                "param `{}` must be a string, a number or true/false (got {other})",
                                escape(name)
                            ),
                        ))
                    }
                };
                given.push((name.clone(), value));
            }
        }
        Some(other) => return Err(Reply::error(400, format!("`params` must be an object (got {other})"))),
    }
    lab::validate_run(demo, threads.map(|t| t as usize), iterations, pin, &given)?;
    args.insert(0, "run".into());
    if let Some(t) = threads {
        args.extend(["--threads".into(), t.to_string()]);
    }
    if let Some(n) = iterations {
        args.extend(["--iterations".into(), n.to_string()]);
    }
    if !pin {
        args.push("--no-pin".into());
    }
    for (name, value) in given {
        args.push(format!("--{name}"));
        args.extend(value);
    }
    Ok((Kind::Run, format!("run {}", spec.name), args))
}

fn check_request(body: &Value) -> JobRequest {
    let (demo, mut args) = demo_and_cases(body)?;
    let spec = demo.spec();
    if !spec.can.check {
        return Err(Reply::error(
            400,
            format!(
                "demo `{}` has nothing for a model checker to find (a performance effect): run it instead",
                spec.name
            ),
        ));
    }
    let checker = match str_field(body, "checker")? {
        None | Some("all") => "all",
        Some("loom") => "loom",
        Some("shuttle") => "shuttle",
        Some(other) => {
            return Err(Reply::error(
                400,
                format!("checker `{}` is not one of: loom, shuttle, all", escape(other)),
            ))
        }
    };
    args.insert(0, "check".into());
    args.extend(["--checker".into(), checker.into()]);
    Ok((Kind::Check, format!("check {} ({checker})", spec.name), args))
}

fn start_job(jobs: &Arc<Jobs>, request: JobRequest) -> Reply {
    let (kind, what, args) = match request {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    match jobs.start(kind, what, args) {
        Ok(job) => Reply::json(202, &json!({ "job": job.id })),
        Err(Refused::Busy(running)) => Reply::json(
            409,
            &json!({
                "error": format!(
                    "a job is running ({}, {} s): wait for it or cancel it",
                    running.what,
                    running.elapsed().as_secs()
                ),
                "job": running.id,
            }),
        ),
    }
}

fn status(jobs: &Jobs) -> Value {
    match jobs.running() {
        Some(job) => json!({ "busy": {
            "job": job.id,
            "what": job.what,
            "elapsed_ms": job.elapsed().as_millis(),
        }}),
        None => json!({ "busy": null }),
    }
}

fn stream_events(request: Request, jobs: &Jobs, id: u64) {
    let Some(job) = jobs.get(id) else {
        return respond(request, Reply::error(404, format!("no job {id}")));
    };
    let mut out = request.into_writer();
    // Chunked by hand, one chunk per batch of events, flushed at once (tiny_http's own encoder
    // would hold events back until 8 KiB had piled up); the zero chunk ends the stream.
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-store\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    if out.write_all(head.as_bytes()).and_then(|_| out.flush()).is_err() {
        return;
    }
    let mut seen = 0;
    loop {
        let (events, now_seen) = job.events_after(seen, Duration::from_millis(500));
        seen = now_seen;
        let mut text = String::new();
        let mut ended = false;
        for event in events {
            let (name, data) = match event {
                Event::Progress { elapsed_ms, line } => ("progress", json!({ "elapsed_ms": elapsed_ms, "line": line })),
                Event::End { name, data } => {
                    ended = true;
                    (name, data)
                }
            };
            text.push_str(&format!("event: {name}\ndata: {data}\n\n"));
        }
        let mut chunk = format!("{:x}\r\n{text}\r\n", text.len());
        if ended {
            chunk.push_str("0\r\n\r\n");
        }
        if out.write_all(chunk.as_bytes()).and_then(|_| out.flush()).is_err() || ended {
            return;
        }
    }
}

fn bench_report() -> Reply {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-report.md");
    match std::fs::read_to_string(&path) {
        Ok(markdown) => Reply::json(200, &json!({ "markdown": markdown, "path": "target/bench-report.md" })),
        Err(_) => Reply::error(
            404,
            "no bench report yet: run scripts/bench-report (it writes target/bench-report.md)",
        ),
    }
}

/// `/bench-report-charts/DEMO.svg` (or `.txt`): a chart the bench report links. Only a registered
/// demo's name is looked up, in the one directory `scripts/bench-report` writes.
fn bench_chart(path: &str) -> Reply {
    let file = path.trim_start_matches("/bench-report-charts/");
    let (name, content_type) = match (file.strip_suffix(".svg"), file.strip_suffix(".txt")) {
        (Some(n), _) => (n, "image/svg+xml"),
        (_, Some(n)) => (n, "text/plain"),
        _ => return Reply::error(404, "a bench chart is DEMO.svg or DEMO.txt"),
    };
    if !registry::names().contains(&name) {
        return Reply::error(404, format!("no demo `{}` has a bench chart", escape(name)));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-report-charts");
    match std::fs::read_to_string(dir.join(file)) {
        Ok(body) => Reply {
            status: 200,
            content_type,
            body,
        },
        Err(_) => Reply::error(404, format!("no chart for `{name}` yet: run scripts/bench-report")),
    }
}

/// `/api/demos`: the seed's groups, each built demo's spec with its bounds, and what is not built.
fn catalogue() -> Value {
    let groups: Vec<Value> = registry::SEED
        .iter()
        .map(|(group, titles)| {
            let demos: Vec<Value> = registry::DEMOS
                .iter()
                .filter(|d| d.spec().group == *group)
                .map(|d| demo_json(*d))
                .collect();
            let not_built: Vec<&str> = titles
                .iter()
                .copied()
                .filter(|t| registry::demos_of(t).next().is_none())
                .collect();
            json!({ "title": group.title(), "demos": demos, "not_built": not_built })
        })
        .collect();
    json!({ "groups": groups, "machine": machine() })
}

fn demo_json(demo: &dyn Demo) -> Value {
    let spec = demo.spec();
    let mut v = serde_json::to_value(spec).expect("a spec serializes");
    let obj = v.as_object_mut().expect("a spec is an object");
    obj.insert(
        "variants".into(),
        json!(match spec.variants {
            Variants::BrokenFixed => "broken-fixed",
            Variants::Single => "single",
            Variants::Orderings { .. } => "orderings",
        }),
    );
    obj.insert(
        "threads".into(),
        match spec.threads {
            Threads::Fixed(n) => json!({ "fixed": n }),
            Threads::AtLeast { min, default } => json!({ "min": min, "default": default, "max": 64 }),
        },
    );
    obj.insert(
        "iterations".into(),
        json!({ "default": spec.default_iterations, "max": spec.max_iterations.0.min(1_000_000_000) }),
    );
    obj.insert("schedulable".into(), json!(lab::sched::schedulable(demo)));
    obj.insert(
        "quick".into(),
        json!(spec.group == Group::Concurrency && spec.bug != crate::lab::BugClass::Performance),
    );
    v
}

fn machine() -> Value {
    let cpu = crate::cpu::mesi::topology::model_name(std::path::Path::new("/")).unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    json!({ "cpu": cpu, "cores": cores, "root": crate::net::rig::privileged().is_ok() })
}
