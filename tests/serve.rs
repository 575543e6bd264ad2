//! `lockfree-lab serve`'s endpoints, spoken to over HTTP on 127.0.0.1: the catalogue, jobs with
//! their event streams, bad parameters, two requests at once, cancellation, a crashing job, the
//! quick in-process routes, and that nothing but 127.0.0.1 is bound.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lockfree_lab::serve::{self, Config, Handle};
use serde_json::{json, Value};

fn lab() -> PathBuf {
    env!("CARGO_BIN_EXE_lockfree-lab").into()
}

fn server_with(exe: PathBuf) -> Handle {
    serve::start(Config { port: 0, exe }).expect("the server starts on a free port")
}

fn server() -> Handle {
    server_with(lab())
}

/// GET or POST `path`, returning the status and the JSON body (errors are answers too).
fn call(h: &Handle, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{}", h.url(), path.trim_start_matches('/'));
    let request = ureq::request(method, &url).timeout(Duration::from_secs(120));
    let result = match body {
        Some(b) => request
            .set("Content-Type", "application/json")
            .send_string(&b.to_string()),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Reads job `id`'s event stream to its end: the event names in order and the last event's data.
fn events(h: &Handle, id: u64) -> (Vec<String>, Value) {
    let url = format!("{}api/jobs/{id}/events", h.url());
    let response = ureq::get(&url)
        .timeout(Duration::from_secs(300))
        .call()
        .expect("the stream opens");
    assert_eq!(
        response.header("Content-Type"),
        Some("text/event-stream; charset=utf-8")
    );
    let mut names = Vec::new();
    let mut last = Value::Null;
    for line in BufReader::new(response.into_reader()).lines() {
        let line = line.expect("the stream reads");
        if let Some(name) = line.strip_prefix("event: ") {
            names.push(name.to_string());
        } else if let Some(data) = line.strip_prefix("data: ") {
            last = serde_json::from_str(data).expect("event data is JSON");
        }
    }
    (names, last)
}

fn job_id(v: &Value) -> u64 {
    v["job"].as_u64().unwrap_or_else(|| panic!("no job id in {v}"))
}

#[test]
fn the_page_and_its_assets_are_served_from_the_binary() {
    let h = server();
    for (path, needle) in [("/", "<html"), ("/assets/app.js", ""), ("/assets/app.css", "")] {
        let r = ureq::get(&format!("{}{}", h.url(), path.trim_start_matches('/')))
            .call()
            .expect("served");
        assert_eq!(r.status(), 200, "{path}");
        let body = r.into_string().unwrap();
        assert!(body.contains(needle) && !body.is_empty(), "{path}");
    }
    // No file a request names is read: a path outside the routes is a 404, not a file.
    for path in [
        "/../Cargo.toml",
        "/assets/../../Cargo.toml",
        "/src/lib.rs",
        "/api/nothing",
    ] {
        let (status, body) = call(&h, "GET", path, None);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
}

#[test]
fn the_catalogue_has_every_group_demo_and_bound() {
    let h = server();
    let (status, cat) = call(&h, "GET", "/api/demos", None);
    assert_eq!(status, 200);
    let groups = cat["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 4);
    let demos: Vec<&Value> = groups.iter().flat_map(|g| g["demos"].as_array().unwrap()).collect();
    assert_eq!(demos.len(), lockfree_lab::lab::DEMOS.len());
    let spsc = demos.iter().find(|d| d["name"] == "spsc").unwrap();
    assert_eq!(spsc["variants"], "broken-fixed");
    assert!(spsc["threads"].is_object() && spsc["iterations"]["max"].as_u64().unwrap() >= 1);
    let mp = demos.iter().find(|d| d["name"] == "message-passing").unwrap();
    assert_eq!(mp["variants"], "orderings");
    assert_eq!(mp["threads"], json!({ "fixed": 2 }));
    assert!(cat["machine"]["cores"].as_u64().unwrap() >= 1);
}

#[test]
fn a_run_streams_progress_then_the_numbers_the_cli_prints() {
    let h = server();
    let (status, started) = call(
        &h,
        "POST",
        "/api/run",
        Some(json!({ "demo": "lost-update", "iterations": 20000, "threads": 2 })),
    );
    assert_eq!(status, 202, "{started}");
    let (names, result) = events(&h, job_id(&started));
    assert!(names.first().is_some_and(|n| n == "progress"), "{names:?}");
    assert_eq!(names.last().map(String::as_str), Some("result"), "{names:?}: {result}");
    assert_eq!(result["kind"], "run");
    let rows = result["output"]["rows"].as_array().unwrap();
    assert_eq!(
        rows.iter().map(|r| r["case"].as_str().unwrap()).collect::<Vec<_>>(),
        ["broken", "fixed"]
    );
    assert_eq!(result["output"]["iterations"], 20000);
    // The fixed counter counts every increment: the figures are the run's, not a constant.
    let fixed = &rows[1]["figures"];
    let figure = |label: &str| {
        fixed
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f[0] == label)
            .unwrap_or_else(|| panic!("no {label} in {fixed}"))[2]
            .as_f64()
            .unwrap()
    };
    assert_eq!(figure("counted"), 40000.0);
    // Finished jobs replay their events; the server is free again.
    let (again, _) = events(&h, job_id(&started));
    assert_eq!(again.last().map(String::as_str), Some("result"));
    assert_eq!(call(&h, "GET", "/api/status", None).1, json!({ "busy": null }));
}

#[test]
fn bad_parameters_are_a_400_with_one_line_before_any_job_starts() {
    let h = server();
    let cases = [
        (json!({ "demo": "lost-update", "iterations": 0 }), "iterations"),
        (json!({ "demo": "lost-update", "iterations": "lots" }), "iterations"),
        (json!({ "demo": "lost-update", "threads": 65 }), "threads"),
        (
            json!({ "demo": "message-passing", "threads": 3 }),
            "always runs 2 threads",
        ),
        (json!({ "demo": "lost-update", "variant": "sideways" }), "broken, fixed"),
        (json!({ "demo": "lost-update", "ordering": "relaxed" }), "no --ordering"),
        (
            json!({ "demo": "descriptor-ring", "params": { "descriptors": "7" } }),
            "power of two",
        ),
        (
            json!({ "demo": "spsc", "params": { "capacity": "8" } }),
            "has no --capacity",
        ),
        (json!({ "demo": "lost-update", "pin": "yes" }), "pin"),
        (json!({}), "give the demo"),
        (json!([1, 2]), "JSON object"),
    ];
    for (body, expect) in cases {
        let (status, reply) = call(&h, "POST", "/api/run", Some(body.clone()));
        assert_eq!(status, 400, "{body}: {reply}");
        let error = reply["error"].as_str().unwrap_or_default();
        assert!(error.contains(expect) && !error.contains('\n'), "{body}: {error}");
    }
    let (status, reply) = call(&h, "POST", "/api/run", Some(json!({ "demo": "no-such-demo" })));
    assert_eq!(status, 404, "{reply}");
    assert!(reply["error"].as_str().unwrap().contains("lost-update"));
    let (status, reply) = call(&h, "POST", "/api/check", Some(json!({ "demo": "tlb" })));
    assert_eq!(status, 400, "{reply}");
    let (status, _) = call(
        &h,
        "POST",
        "/api/check",
        Some(json!({ "demo": "aba", "checker": "tsan" })),
    );
    assert_eq!(status, 400);
    let raw = ureq::post(&format!("{}api/run", h.url())).send_string("{not json");
    assert!(matches!(raw, Err(ureq::Error::Status(400, _))));
    // Nothing ran.
    assert_eq!(call(&h, "GET", "/api/status", None).1, json!({ "busy": null }));
}

#[test]
fn two_runs_at_once_one_starts_and_the_other_is_told_what_runs() {
    let h = server();
    let body = json!({ "demo": "lost-update", "iterations": 1_000_000_000 });
    let url = format!("{}api/run", h.url());
    let requests: Vec<_> = (0..4)
        .map(|_| {
            let (url, body) = (url.clone(), body.to_string());
            std::thread::spawn(move || match ureq::post(&url).send_string(&body) {
                Ok(r) => (r.status(), r.into_string().unwrap()),
                Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap()),
                Err(e) => panic!("{e}"),
            })
        })
        .collect();
    let answers: Vec<(u16, String)> = requests.into_iter().map(|t| t.join().unwrap()).collect();
    let started: Vec<_> = answers.iter().filter(|(s, _)| *s == 202).collect();
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == 409).collect();
    assert_eq!((started.len(), refused.len()), (1, 3), "{answers:?}");
    let running: Value = serde_json::from_str(&started[0].1).unwrap();
    let id = job_id(&running);
    for (_, text) in &refused {
        let v: Value = serde_json::from_str(text).unwrap();
        assert!(v["error"].as_str().unwrap().contains("run lost-update"), "{v}");
        assert_eq!(v["job"], json!(id));
    }
    let (_, status) = call(&h, "GET", "/api/status", None);
    assert_eq!(status["busy"]["job"], json!(id));
    // The quick routes still answer while a job runs.
    assert_eq!(call(&h, "GET", "/api/demos", None).0, 200);
    assert_eq!(
        call(&h, "POST", &format!("/api/jobs/{id}/cancel"), None).1,
        json!({ "cancelled": true })
    );
    let (names, _) = events(&h, id);
    assert_eq!(names.last().map(String::as_str), Some("cancelled"));
}

#[test]
fn a_cancelled_run_ends_its_process_and_frees_the_lab() {
    let h = server();
    let (_, started) = call(
        &h,
        "POST",
        "/api/run",
        Some(json!({ "demo": "lost-update", "iterations": 1_000_000_000 })),
    );
    let id = job_id(&started);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(
        call(&h, "POST", &format!("/api/jobs/{id}/cancel"), None).1,
        json!({ "cancelled": true })
    );
    let (names, _) = events(&h, id);
    assert_eq!(names.last().map(String::as_str), Some("cancelled"), "{names:?}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the cancel took {:?}",
        t.elapsed()
    );
    assert_eq!(call(&h, "GET", "/api/status", None).1, json!({ "busy": null }));
    // Cancelling again says it had already ended; a job that does not exist is a 404.
    assert_eq!(
        call(&h, "POST", &format!("/api/jobs/{id}/cancel"), None).1,
        json!({ "cancelled": false })
    );
    assert_eq!(call(&h, "POST", "/api/jobs/999/cancel", None).0, 404);
    assert_eq!(call(&h, "GET", "/api/jobs/999/events", None).0, 404);
    // And the lab takes the next job.
    let (status, next) = call(
        &h,
        "POST",
        "/api/run",
        Some(json!({ "demo": "lost-update", "iterations": 1000 })),
    );
    assert_eq!(status, 202, "{next}");
    assert_eq!(events(&h, job_id(&next)).0.last().map(String::as_str), Some("result"));
}

#[test]
fn a_job_that_crashes_is_reported_and_the_server_keeps_serving() {
    // A stand-in for the lab binary that panics the way a checker would.
    let dir = std::env::temp_dir().join(format!("lockfree-lab-serve-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("crashing-lab");
    std::fs::write(
        &exe,
        "#!/bin/sh\necho \"thread 'main' panicked at src/check.rs:1:1:\" >&2\necho 'a checker fell over' >&2\nexit 101\n",
    )
    .unwrap();
    std::fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let h = server_with(exe);
    let (_, started) = call(
        &h,
        "POST",
        "/api/check",
        Some(json!({ "demo": "aba", "variant": "broken" })),
    );
    let (names, data) = events(&h, job_id(&started));
    assert_eq!(names.last().map(String::as_str), Some("error"));
    let error = data["error"].as_str().unwrap();
    assert!(
        error.contains("crashed") && error.contains("a checker fell over"),
        "{error}"
    );
    assert_eq!(call(&h, "GET", "/api/demos", None).0, 200);
    let (status, again) = call(&h, "POST", "/api/check", Some(json!({ "demo": "aba" })));
    assert_eq!(status, 202, "{again}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_check_streams_each_checkers_verdict() {
    let h = server();
    let (status, started) = call(
        &h,
        "POST",
        "/api/check",
        Some(json!({ "demo": "aba", "variant": "broken", "checker": "shuttle" })),
    );
    assert_eq!(status, 202);
    let (names, result) = events(&h, job_id(&started));
    assert_eq!(names.last().map(String::as_str), Some("result"));
    let outputs = result["output"].as_array().unwrap();
    assert_eq!(outputs.len(), 2, "shuttle random and PCT");
    for out in outputs {
        assert_eq!(out["verdict"], "bug found", "{out}");
        assert!(!out["steps"].as_array().unwrap().is_empty());
    }
}

#[test]
fn the_replay_route_answers_and_refuses_bad_queries() {
    let h = server();
    let (status, replay) = call(&h, "GET", "/api/replay?demo=aba&variant=fixed", None);
    assert_eq!(status, 200, "{replay}");
    assert!(replay["steps"].as_array().unwrap().len() > 3);
    for bad in [
        "/api/replay",
        "/api/replay?demo=aba&variant=odd",
        "/api/replay?demo=aba&colour=red",
    ] {
        assert_eq!(call(&h, "GET", bad, None).0, 400, "{bad}");
    }
    assert_eq!(call(&h, "GET", "/api/replay?demo=zzz", None).0, 404);
}

#[test]
fn the_server_listens_on_loopback_only() {
    let h = server();
    let port = h.port();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    // Any other local address of this machine is refused: the socket is bound to 127.0.0.1.
    let others: Vec<std::net::IpAddr> = local_addresses().into_iter().filter(|a| !a.is_loopback()).collect();
    for addr in &others {
        let r = std::net::TcpStream::connect_timeout(&(*addr, port).into(), Duration::from_millis(500));
        assert!(r.is_err(), "reachable on {addr}:{port}");
    }
    let bound = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let listening = format!("0100007F:{port:04X}");
    assert!(
        bound.contains(&listening),
        "no 127.0.0.1:{port} listener in /proc/net/tcp"
    );
}

/// This machine's IPv4 addresses, from `/proc/net/fib_trie`'s local host routes.
fn local_addresses() -> Vec<std::net::IpAddr> {
    let text = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for w in lines.windows(2) {
        if w[1].contains("/32 host LOCAL") {
            if let Some(ip) = w[0].split_whitespace().last().and_then(|a| a.parse().ok()) {
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

#[test]
fn the_trace_route_names_locations_and_draws_synchronizes_with_edges() {
    let h = server();
    let (status, view) = call(&h, "GET", "/api/trace?demo=aba&variant=broken", None);
    assert_eq!(status, 200, "{view}");
    let locations: Vec<&str> = view["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    for name in ["head", "next[A]"] {
        assert!(locations.contains(&name), "{locations:?}");
    }
    let steps = view["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| !s["name"].as_str().unwrap().starts_with('#')),
        "an unnamed atomic in {view}"
    );
    let sw = view["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "sw")
        .count();
    assert!(sw > 0, "no synchronizes-with edge: {view}");
    assert!(view["failure"].as_str().unwrap().contains("ABA"));
    assert_eq!(call(&h, "GET", "/api/trace?demo=tlb", None).0, 400);
}

#[test]
fn the_scheduler_routes_play_a_schedule_and_refuse_a_bad_one() {
    let h = server();
    let (status, hint) = call(&h, "GET", "/api/schedule/hint?demo=aba&variant=broken", None);
    assert_eq!(status, 200, "{hint}");
    let choices = hint["choices"].clone();
    let (status, play) = call(
        &h,
        "POST",
        "/api/schedule",
        Some(json!({ "demo": "aba", "variant": "broken", "choices": choices })),
    );
    assert_eq!(status, 200, "{play}");
    assert_eq!(play["done"], true, "{play}");
    assert_eq!(play["verdict"]["broken"], true, "{play}");
    // The empty schedule: nothing has happened yet, both threads can go.
    let (_, start) = call(
        &h,
        "POST",
        "/api/schedule",
        Some(json!({ "demo": "aba", "choices": [] })),
    );
    assert_eq!(start["done"], false);
    assert!(start["verdict"].is_null());
    for bad in [
        json!({ "demo": "aba", "choices": [3] }),
        json!({ "demo": "aba", "choices": "12" }),
        json!({ "demo": "aba", "choices": [1], "variant": "sideways" }),
        json!({ "demo": "tlb", "choices": [1] }),
    ] {
        let (status, reply) = call(&h, "POST", "/api/schedule", Some(bad.clone()));
        assert_eq!(status, 400, "{bad}: {reply}");
        assert!(reply["error"].is_string());
    }
}
