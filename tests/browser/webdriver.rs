//! A minimal WebDriver client for the browser tests: just what they use, over blocking HTTP.
//!
//! WebDriver (W3C) is a JSON-over-HTTP protocol: a driver process (`chromedriver`) listens on a
//! port, `POST /session` starts a browser, and every command is a request under
//! `/session/{id}/…` whose answer is `{"value": …}` (or an error status with
//! `{"value": {"error": …, "message": …}}`). Elements are handles the driver hands back under the
//! key [`ELEMENT_KEY`]. This module speaks the dozen commands the tests need; dropping a
//! [`Browser`] deletes its session and kills its driver, so a failing test leaves no process.
//!
//! Whether the browser exists at all is decided by [`decide`]: a developer without Chromium gets
//! the tests skipped with the install command, CI (which sets [`REQUIRE_ENV`]) gets them failed.

use std::fs;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key under which WebDriver returns an element's handle (fixed by the W3C spec).
pub const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The browser binary the tests drive (Debian's `chromium` package).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Set to `1` (CI does) to make a missing browser a failure instead of a skip.
pub const REQUIRE_ENV: &str = "LOCKFREE_LAB_REQUIRE_BROWSER";

/// What a browser test does when it starts.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Chromium and chromedriver are both here: run.
    Run,
    /// One is missing and nobody requires them: print this line and pass.
    Skip(String),
    /// One is missing and [`REQUIRE_ENV`] is set: fail with this line.
    Fail(String),
}

/// Decides from what is installed and whether the browser is required. Pure, so that both
/// branches are unit-tested without touching the machine.
pub fn decide(chromium: bool, driver: bool, require: bool) -> Decision {
    if chromium && driver {
        return Decision::Run;
    }
    let line = "headless Chromium not found — install it with: apt-get install chromium chromium-driver";
    if require {
        Decision::Fail(format!("{line} ({REQUIRE_ENV}=1 requires it)"))
    } else {
        Decision::Skip(format!("skipped: {line}"))
    }
}

/// [`decide`] for this machine and environment.
pub fn decide_here() -> Decision {
    let require = std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1");
    decide(Path::new(CHROMIUM).is_file(), find_driver().is_some(), require)
}

/// `chromedriver` on `PATH`, or where Debian puts it.
pub fn find_driver() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .map(|dir| dir.join("chromedriver"))
        .chain([PathBuf::from("/usr/bin/chromedriver")])
        .find(|p| p.is_file())
}

/// An error from the driver: the WebDriver error code (`no such element`, `stale element
/// reference`, …) or `transport` when the driver did not answer.
#[derive(Debug, Clone)]
pub struct WdError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The driver's messages carry a stack trace on later lines: the first line says it.
        let first = self.message.lines().next().unwrap_or("");
        write!(f, "{}: {first}", self.code)
    }
}

pub type WdResult<T> = Result<T, WdError>;

/// An element handle, valid while its node is in the page.
#[derive(Debug, Clone)]
pub struct Element {
    id: String,
}

/// One chromedriver process and one headless Chromium session in it.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session in it.
    pub fn start() -> WdResult<Browser> {
        let exe = find_driver().ok_or_else(|| transport("chromedriver not found"))?;
        // The driver does not tell us a port it picked, so we pick one: bind port 0, read what
        // the kernel gave, release it. Another process could take it in between; then the
        // driver fails to start and we try another.
        let mut last = transport("chromedriver did not start");
        for _ in 0..3 {
            let port = free_port().map_err(|e| transport(&e.to_string()))?;
            let driver = Command::new(&exe)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| transport(&format!("cannot run {}: {e}", exe.display())))?;
            let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
            let mut browser = Browser {
                driver,
                base: format!("http://127.0.0.1:{port}"),
                session: String::new(),
                agent,
            };
            match browser.wait_ready().and_then(|()| browser.new_session()) {
                Ok(()) => return Ok(browser),
                // Dropping `browser` kills this driver.
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn wait_ready(&mut self) -> WdResult<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(transport(&format!("chromedriver exited: {status}")));
            }
            match self.http("GET", "/status", None) {
                Ok(v) if v["ready"] == json!(true) => return Ok(()),
                _ if Instant::now() > deadline => return Err(transport("chromedriver not ready after 20 s")),
                _ => thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn new_session(&mut self) -> WdResult<()> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--window-size=1280,1000", "--disable-dev-shm-usage"],
            },
        }}});
        let v = self.http("POST", "/session", Some(caps))?;
        self.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| transport(&format!("no sessionId in {v}")))?
            .to_string();
        Ok(())
    }

    /// One raw request: `path` is under the driver's root. Returns the answer's `value`.
    fn http(&self, method: &str, path: &str, body: Option<Value>) -> WdResult<Value> {
        let url = format!("{}{path}", self.base);
        let req = self.agent.request(method, &url);
        let sent = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(&b.to_string()),
            None => req.call(),
        };
        let (ok, resp) = match sent {
            Ok(r) => (true, r),
            Err(ureq::Error::Status(_, r)) => (false, r),
            Err(e) => return Err(transport(&e.to_string())),
        };
        let text = resp.into_string().map_err(|e| transport(&e.to_string()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| transport(&format!("not JSON ({e}): {text}")))?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if ok {
            return Ok(value);
        }
        Err(WdError {
            code: value["error"].as_str().unwrap_or("unknown error").into(),
            message: value["message"].as_str().unwrap_or(&text).into(),
        })
    }

    /// A command of this session: `path` is under `/session/{id}`.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> WdResult<Value> {
        self.http(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) -> WdResult<()> {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).map(drop)
    }

    /// The first element matching a CSS selector, or `no such element`.
    pub fn find(&self, css: &str) -> WdResult<Element> {
        let v = self.cmd("POST", "/element", Some(by_css(css)))?;
        element(&v)
    }

    /// Every element matching a CSS selector (possibly none).
    pub fn find_all(&self, css: &str) -> WdResult<Vec<Element>> {
        let v = self.cmd("POST", "/elements", Some(by_css(css)))?;
        v.as_array()
            .map(|a| a.iter().map(element).collect())
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// Elements matching a CSS selector inside `parent`.
    pub fn find_in(&self, parent: &Element, css: &str) -> WdResult<Vec<Element>> {
        let path = format!("/element/{}/elements", parent.id);
        let v = self.cmd("POST", &path, Some(by_css(css)))?;
        v.as_array()
            .map(|a| a.iter().map(element).collect())
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    pub fn click(&self, el: &Element) -> WdResult<()> {
        let path = format!("/element/{}/click", el.id);
        self.cmd("POST", &path, Some(json!({}))).map(drop)
    }

    /// Clears an input, then types `text` into it, as a user would.
    pub fn type_into(&self, el: &Element, text: &str) -> WdResult<()> {
        self.cmd("POST", &format!("/element/{}/clear", el.id), Some(json!({})))?;
        let path = format!("/element/{}/value", el.id);
        self.cmd("POST", &path, Some(json!({ "text": text }))).map(drop)
    }

    /// Picks the option whose `value` is `value` in a `<select>`, by clicking it.
    pub fn select(&self, select: &Element, value: &str) -> WdResult<()> {
        let css = format!("option[value=\"{value}\"]");
        let option = self.find_in(select, &css)?.into_iter().next().ok_or_else(|| WdError {
            code: "no such element".into(),
            message: format!("no {css} in the select"),
        })?;
        self.click(&option)
    }

    /// The element's rendered text (empty when hidden).
    pub fn text(&self, el: &Element) -> WdResult<String> {
        let v = self.cmd("GET", &format!("/element/{}/text", el.id), None)?;
        Ok(v.as_str().unwrap_or("").into())
    }

    /// An attribute, or `None` when absent.
    pub fn attr(&self, el: &Element, name: &str) -> WdResult<Option<String>> {
        let v = self.cmd("GET", &format!("/element/{}/attribute/{name}", el.id), None)?;
        Ok(v.as_str().map(String::from))
    }

    /// A DOM property (`value`, `disabled`, `className`, …) as JSON.
    pub fn prop(&self, el: &Element, name: &str) -> WdResult<Value> {
        self.cmd("GET", &format!("/element/{}/property/{name}", el.id), None)
    }

    pub fn has_class(&self, el: &Element, class: &str) -> WdResult<bool> {
        let classes = self.attr(el, "class")?.unwrap_or_default();
        Ok(classes.split_whitespace().any(|c| c == class))
    }

    pub fn displayed(&self, el: &Element) -> WdResult<bool> {
        let v = self.cmd("GET", &format!("/element/{}/displayed", el.id), None)?;
        Ok(v == json!(true))
    }

    /// Runs `script` (a function body: `return …;`) in the page; `args` are `arguments[i]`.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> WdResult<Value> {
        let body = json!({ "script": script, "args": args });
        self.cmd("POST", "/execute/sync", Some(body))
    }

    /// Resizes the browser window (the viewport a screenshot shows follows it).
    pub fn set_window_size(&self, width: u32, height: u32) -> WdResult<()> {
        let body = json!({ "width": width, "height": height });
        self.cmd("POST", "/window/rect", Some(body)).map(drop)
    }

    /// A PNG of the viewport, written to `path` (its directory is created).
    pub fn screenshot(&self, path: &Path) -> WdResult<()> {
        let v = self.cmd("GET", "/screenshot", None)?;
        let png = base64_decode(v.as_str().unwrap_or("")).ok_or_else(|| transport("the screenshot is not base64"))?;
        let io = |e: io::Error| transport(&format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io)?;
        }
        fs::write(path, png).map_err(io)
    }

    /// Polls `probe` every 100 ms until it returns `Some`, for at most `timeout`. A driver error
    /// counts as "not yet" (the page may be re-rendering the element we held); the last one is
    /// in the panic message, with `what` we waited for.
    pub fn wait<T>(&self, what: &str, timeout: Duration, mut probe: impl FnMut(&Browser) -> WdResult<Option<T>>) -> T {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("nothing yet");
        loop {
            match probe(self) {
                Ok(Some(t)) => return t,
                Ok(None) => {}
                Err(e) => last = e.to_string(),
            }
            if Instant::now() > deadline {
                panic!("timed out after {timeout:?} waiting for {what} (last: {last})");
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Closes Chromium; the driver would leave it running otherwise.
            let _ = self.cmd("DELETE", "", None);
        }
        // Asks the driver to exit (it then reaps its browser's processes), kills it if it won't.
        let _ = self.http("GET", "/shutdown", None);
        let deadline = Instant::now() + Duration::from_secs(3);
        while matches!(self.driver.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn by_css(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

fn element(v: &Value) -> WdResult<Element> {
    v[ELEMENT_KEY]
        .as_str()
        .map(|id| Element { id: id.into() })
        .ok_or_else(|| transport(&format!("not an element: {v}")))
}

fn transport(message: &str) -> WdError {
    WdError {
        code: "transport".into(),
        message: message.into(),
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Standard base64 (RFC 4648, with padding) to bytes; `None` on a character outside the alphabet.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let sextet = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let body = clean.strip_suffix(b"==").or_else(|| clean.strip_suffix(b"="));
    let body = body.unwrap_or(&clean);
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    // Four characters carry three bytes; a final group of 2 or 3 carries 1 or 2.
    for group in body.chunks(4) {
        let mut word = 0u32;
        for &c in group {
            word = word << 6 | sextet(c)?;
        }
        word <<= 6 * (4 - group.len()) as u32;
        let bytes = word.to_be_bytes();
        match group.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return None,
        }
    }
    Some(out)
}
