//! `lockfree-lab serve` in a real browser: headless Chromium driven over WebDriver.
//!
//! Each test starts the server in-process on a free port, opens the page in a fresh Chromium
//! and does what a learner does: opens the lab, runs a demo, steps the ABA counterexample,
//! plays the scheduler, types a bad parameter. The element ids the tests name (`#step-index`,
//! `#sched-verdict`, …) are the page's contract with them; the server's own answers (`/api/…`)
//! are the oracle the page is checked against, so a test fails when the page shows something
//! other than what the server said.
//!
//! Without Chromium (`/usr/bin/chromium` and `chromedriver`) each test prints the install
//! command and passes; CI sets `LOCKFREE_LAB_REQUIRE_BROWSER=1`, which turns that into a failure.
//! Every test leaves a screenshot of its last page in `target/browser-screenshots/<test>.png`,
//! failing or not; `LOCKFREE_LAB_SCREENSHOT=1` also writes the README's `docs/lab-serve.png`.

mod webdriver;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use lockfree_lab::serve;
use serde_json::{json, Value};
use webdriver::{base64_decode, decide, decide_here, Browser, Decision, Element, WdResult};

/// How long a page may take to show what the server answered (a quick run included).
const PAGE: Duration = Duration::from_secs(30);

/// One browser test at a time: each starts Chromium, and the runs they start are measured on
/// the same cores (the server refuses a second job anyway, but only within one server).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A test's lab: the server, a browser on it, and the screenshot it leaves behind.
struct Lab {
    test: &'static str,
    browser: Browser,
    server: serve::Handle,
    _turn: MutexGuard<'static, ()>,
}

impl Lab {
    /// Starts the server and a browser, or returns `None` (after printing why) when Chromium is
    /// not installed and not required. Panics when it is required and missing.
    fn open(test: &'static str) -> Option<Lab> {
        match decide_here() {
            Decision::Run => {}
            Decision::Skip(line) => {
                skipped(test, &line);
                return None;
            }
            Decision::Fail(line) => panic!("{line}"),
        }
        // A test that failed poisons the lock; the next one still runs.
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let server = serve::start(serve::Config {
            port: 0,
            exe: env!("CARGO_BIN_EXE_lockfree-lab").into(),
        })
        .expect("the lab server starts");
        let browser = Browser::start().unwrap_or_else(|e| panic!("headless Chromium: {e}"));
        Some(Lab {
            test,
            browser,
            server,
            _turn: turn,
        })
    }

    /// `http://127.0.0.1:PORT/` + `path` (no leading slash).
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// Opens a hash route (`#/step/aba`) on a freshly loaded page.
    fn go(&self, route: &str) {
        self.browser.goto(&self.url(route)).expect("navigate");
    }

    /// The server's own answer to a GET, as the oracle the page is compared with.
    fn get(&self, path: &str) -> Value {
        let text = ureq::get(&self.url(path))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .into_string()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// The server's answer to a POST: (status, body).
    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let sent = ureq::post(&self.url(path))
            .set("Content-Type", "application/json")
            .send_string(&body.to_string());
        let resp = match sent {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("POST {path}: {e}"),
        };
        let status = resp.status();
        let text = resp.into_string().unwrap();
        (status, serde_json::from_str(&text).unwrap())
    }

    /// Waits for a displayed element matching `css`.
    fn shown(&self, css: &str) -> Element {
        self.browser.wait(&format!("{css} to be shown"), PAGE, |b| {
            for el in b.find_all(css)? {
                if b.displayed(&el)? {
                    return Ok(Some(el));
                }
            }
            Ok(None)
        })
    }

    /// The rendered text of the first element matching `css` (empty when there is none).
    fn text(&self, css: &str) -> WdResult<String> {
        match self.browser.find_all(css)?.first() {
            Some(el) => self.browser.text(el),
            None => Ok(String::new()),
        }
    }

    /// The `textContent` of every element matching `css` (what the page wrote, before CSS such
    /// as `text-transform` changes how it looks).
    fn contents(&self, css: &str) -> Vec<String> {
        let script = "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent.trim());";
        let v = self.browser.execute(script, vec![json!(css)]).expect(css);
        strings(&v)
    }

    /// The cells of a table, one `Vec` per row (header row included), as `textContent`.
    fn table(&self, css: &str) -> Vec<Vec<String>> {
        let script = "return Array.from(document.querySelectorAll(arguments[0] + ' tr'), \
                      tr => Array.from(tr.cells, c => c.textContent.trim()));";
        let v = self.browser.execute(script, vec![json!(css)]).expect(css);
        v.as_array()
            .map(|rows| rows.iter().map(strings).collect())
            .unwrap_or_default()
    }

    /// Clicks the first element matching `css` (waiting for it to be shown).
    fn click(&self, css: &str) {
        let el = self.shown(css);
        self.browser.click(&el).unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clears the input matching `css` and types `text` into it, as-is.
    fn type_into(&self, css: &str, text: &str) {
        let el = self.shown(css);
        self.browser
            .type_into(&el, text)
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Also when the test failed: the page it failed on is the artifact worth having.
        let path = target_dir()
            .join("browser-screenshots")
            .join(format!("{}.png", self.test));
        if let Err(e) = self.browser.screenshot(&path) {
            eprintln!("{}: no screenshot: {e}", self.test);
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    let all = v.as_array().map(Vec::as_slice).unwrap_or_default();
    all.iter().map(|s| s.as_str().unwrap_or("").to_string()).collect()
}

/// Says a test was skipped where the developer sees it: straight to the process's stderr,
/// which the test harness does not capture (it captures only `print!` and `eprint!`).
fn skipped(test: &str, line: &str) {
    let _ = writeln!(std::io::stderr(), "browser test {test}: {line}");
}

/// Where cargo builds: `CARGO_TARGET_DIR` if set, else `target/` in the crate.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Writes the README's screenshot, only when asked (`LOCKFREE_LAB_SCREENSHOT=1`): the whole page
/// (up to 2,400 px tall) from its top, then the window as it was.
fn readme_screenshot(lab: &Lab) {
    if !std::env::var("LOCKFREE_LAB_SCREENSHOT").is_ok_and(|v| v == "1") {
        return;
    }
    let b = &lab.browser;
    let height = b
        .execute("return document.documentElement.scrollHeight;", vec![])
        .unwrap();
    let height = height.as_u64().unwrap_or(1000).clamp(1000, 2400) as u32;
    b.set_window_size(1280, height).unwrap();
    b.execute("window.scrollTo(0, 0);", vec![]).unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/lab-serve.png");
    b.screenshot(&path).expect("the README screenshot");
    b.set_window_size(1280, 1000).unwrap();
    let _ = writeln!(std::io::stderr(), "wrote {}", path.display());
}

#[test]
fn decide_runs_when_both_are_installed() {
    assert_eq!(decide(true, true, false), Decision::Run);
    assert_eq!(decide(true, true, true), Decision::Run);
}

#[test]
fn decide_skips_with_the_install_command_when_not_required() {
    for (chromium, driver) in [(false, true), (true, false), (false, false)] {
        let Decision::Skip(line) = decide(chromium, driver, false) else {
            panic!("{chromium} {driver}: not a skip")
        };
        assert!(line.starts_with("skipped: headless Chromium not found"), "{line}");
        assert!(line.contains("apt-get install chromium chromium-driver"), "{line}");
    }
}

#[test]
fn decide_fails_when_required_and_missing() {
    for (chromium, driver) in [(false, true), (true, false), (false, false)] {
        let Decision::Fail(line) = decide(chromium, driver, true) else {
            panic!("{chromium} {driver}: not a failure")
        };
        assert!(line.contains("apt-get install chromium chromium-driver"), "{line}");
        assert!(line.contains("LOCKFREE_LAB_REQUIRE_BROWSER=1"), "{line}");
    }
}

#[test]
fn base64_decodes_padding_and_rejects_foreign_characters() {
    assert_eq!(base64_decode("").unwrap(), b"");
    assert_eq!(base64_decode("TQ==").unwrap(), b"M");
    assert_eq!(base64_decode("TWE=").unwrap(), b"Ma");
    assert_eq!(base64_decode("TWFu").unwrap(), b"Man");
    assert_eq!(base64_decode("iVBORw0K\nGgo=").unwrap(), b"\x89PNG\r\n\x1a\n");
    assert_eq!(base64_decode("TW!u"), None);
}

/// The client itself, on a page of its own (no server): every command the lab tests use.
#[test]
fn the_webdriver_client_drives_a_page() {
    match decide_here() {
        Decision::Run => {}
        Decision::Skip(line) => return skipped("webdriver-client", &line),
        Decision::Fail(line) => panic!("{line}"),
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let browser = Browser::start().unwrap_or_else(|e| panic!("headless Chromium: {e}"));
    let page = "<select id=s><option value=a>a</option><option value=b>b</option></select>\
                <input id=i type=number><button id=b onclick=\"setTimeout(() => \
                document.getElementById('o').textContent = document.getElementById('s').value \
                + document.getElementById('i').value, 300)\">go</button><p id=o class='x y'></p>";
    browser.goto(&format!("data:text/html,{page}")).unwrap();
    browser.select(&browser.find("#s").unwrap(), "b").unwrap();
    browser.type_into(&browser.find("#i").unwrap(), "7").unwrap();
    browser.click(&browser.find("#b").unwrap()).unwrap();
    let out = browser.find("p#o").unwrap();
    // The text appears 300 ms after the click: the wait polls until it does.
    let text = browser.wait("the output", PAGE, |b| {
        let t = b.text(&out)?;
        Ok((!t.is_empty()).then_some(t))
    });
    assert_eq!(text, "b7");
    assert!(browser.has_class(&out, "y").unwrap() && !browser.has_class(&out, "z").unwrap());
    let sum = browser.execute("return arguments[0] + 1;", vec![json!(41)]).unwrap();
    assert_eq!(sum, json!(42));
    let missing = browser.find("#nothing").unwrap_err();
    assert_eq!(missing.code, "no such element");
    let path = target_dir().join("browser-screenshots/webdriver-client.png");
    browser.screenshot(&path).unwrap();
    assert!(std::fs::read(&path).unwrap().starts_with(b"\x89PNG"));
    // Timing out is a failure that says what it waited for.
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        browser.wait("nothing", Duration::from_millis(300), |_| Ok(None::<()>))
    }));
    let message = waited.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("timed out after 300ms waiting for nothing"),
        "{message}"
    );
}

/// The digits of a figure as the page prints it (`2,000` → 2000).
fn number(text: &str) -> Option<u64> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[test]
fn the_lab_shows_the_four_groups_and_a_link_per_built_demo() {
    let Some(lab) = Lab::open("home") else { return };
    let catalogue = lab.get("api/demos");
    let groups = catalogue["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 4, "the seed's four groups: {catalogue}");
    let titles: Vec<String> = groups.iter().map(|g| g["title"].as_str().unwrap().into()).collect();
    let demos: Vec<&Value> = groups.iter().flat_map(|g| g["demos"].as_array().unwrap()).collect();
    let names: Vec<String> = demos.iter().map(|d| d["name"].as_str().unwrap().into()).collect();
    let not_built: Vec<String> = groups
        .iter()
        .flat_map(|g| g["not_built"].as_array().cloned().unwrap_or_default())
        .map(|t| t.as_str().unwrap().into())
        .collect();

    lab.go("#/");
    lab.browser.wait("a link per built demo", PAGE, |b| {
        Ok((b.find_all("nav#nav a.demo-link")?.len() == names.len()).then_some(()))
    });
    assert_eq!(lab.contents("nav#nav h3.group"), titles);
    let links = lab.browser.find_all("nav#nav a.demo-link").unwrap();
    for (a, name) in links.iter().zip(&names) {
        assert_eq!(
            lab.browser.attr(a, "data-demo").unwrap().as_deref(),
            Some(name.as_str())
        );
        let href = lab.browser.attr(a, "href").unwrap().unwrap_or_default();
        assert!(href.ends_with(&format!("#/demo/{name}")), "{name}: href {href}");
    }
    // A seed demo the lab does not make real yet is marked, and is not a link.
    let marks = lab.contents("nav#nav span.not-built");
    assert_eq!(marks.len(), not_built.len(), "{marks:?} vs {not_built:?}");
    for (mark, title) in marks.iter().zip(&not_built) {
        assert!(
            mark.contains(title.as_str()) && mark.contains("not built yet"),
            "{mark}"
        );
    }
    assert!(lab.contents("nav#nav a .not-built").is_empty());

    // Following a link opens that demo with its lesson.
    let aba = demos.iter().find(|d| d["name"] == "aba").expect("aba is built");
    lab.click("nav#nav a.demo-link[data-demo=\"aba\"]");
    lab.browser.wait("the aba demo page", PAGE, |_| {
        Ok((lab.text("section#demo h2#demo-title")? == "aba").then_some(()))
    });
    assert_eq!(lab.contents("p#lesson"), [aba["lesson"].as_str().unwrap()]);
}

#[test]
fn a_quick_run_shows_its_numbers_in_the_result_table() {
    let Some(lab) = Lab::open("run") else { return };
    lab.go("#/demo/lost-update");
    let iterations = 1000;
    lab.type_into("#controls input[name=iterations]", &iterations.to_string());
    let threads = lab.browser.find("#controls input[name=threads]").unwrap();
    let threads = lab.browser.prop(&threads, "value").unwrap();
    let threads: u64 = threads.as_str().unwrap().parse().unwrap();
    lab.click("button#run");

    let rows = lab.browser.wait("the run's rows in table#result-table", PAGE, |_| {
        let rows = lab.table("table#result-table");
        Ok((rows.len() >= 3).then_some(rows))
    });
    let head = &rows[0];
    let col = |label: &str| {
        head.iter()
            .position(|h| h == label)
            .unwrap_or_else(|| panic!("no `{label}` column in {head:?}"))
    };
    let (expected, counted) = (col("expected"), col("counted"));
    let row = |case: &str| {
        rows.iter()
            .find(|r| r.first().map(String::as_str) == Some(case))
            .unwrap_or_else(|| panic!("no {case} row in {rows:?}"))
    };
    // The numbers are the run's: every increment was expected, the fixed counter kept them all
    // and the broken one at most all.
    for case in ["broken", "fixed"] {
        assert_eq!(number(&row(case)[expected]), Some(threads * iterations), "{rows:?}");
    }
    assert_eq!(number(&row("fixed")[counted]), Some(threads * iterations), "{rows:?}");
    assert!(number(&row("broken")[counted]).unwrap() <= threads * iterations);
    assert!(!lab.browser.displayed(&lab.browser.find("div#error").unwrap()).unwrap());
}

/// Clicks `css` and waits for the step index to read `want`, returning its text.
fn step_to(lab: &Lab, css: &str, want: usize, total: usize) {
    lab.click(css);
    let wanted = format!("{want} / {total}");
    lab.browser.wait(&format!("span#step-index = {wanted}"), PAGE, |_| {
        Ok((lab.text("span#step-index")? == wanted).then_some(()))
    });
}

#[test]
fn stepping_the_aba_counterexample_shows_named_locations_and_arrows() {
    let Some(lab) = Lab::open("step-aba") else { return };
    let trace = lab.get("api/trace?demo=aba&variant=broken");
    let steps = trace["steps"].as_array().expect("steps").clone();
    assert!(!steps.is_empty(), "the checker found no ABA trace: {trace}");
    let edges = trace["edges"].as_array().cloned().unwrap_or_default();
    let sw_upto = |k: usize| {
        let last = steps[k - 1]["number"].as_u64().unwrap();
        let ends = |e: &Value| e["from"].as_u64().unwrap() <= last && e["to"].as_u64().unwrap() <= last;
        edges.iter().filter(|e| e["kind"] == "sw" && ends(e)).count()
    };
    let total = steps.len();

    lab.go("#/step/aba");
    let first: usize = lab.browser.wait("span#step-index to show the trace", PAGE, |_| {
        let text = lab.text("span#step-index")?;
        Ok(match text.split_once(" / ") {
            Some((k, t)) if t == total.to_string() => k.parse().ok(),
            _ => None,
        })
    });
    assert!(first <= 1, "the trace starts at its beginning, not {first}");
    let sel = |k: usize| format!(".step[data-step=\"{}\"]", steps[k - 1]["number"]);
    for k in first.max(1)..=total {
        if k > first {
            step_to(&lab, "button#step-next", k, total);
        }
        // One current step, the k-th; the arrows are those whose ends have happened.
        let current = lab.browser.find_all("#trace .step.current").unwrap();
        assert_eq!(current.len(), 1, "step {k}");
        assert!(lab
            .browser
            .has_class(&lab.browser.find(&format!("#trace {}", sel(k))).unwrap(), "current")
            .unwrap());
        let drawn = lab.browser.find_all("svg#hb-arrows path.arrow.sw").unwrap().len();
        assert_eq!(drawn, sw_upto(k), "synchronizes-with arrows at step {k}");
    }
    // At the end: every step, in its thread's column, locations by name, at least one
    // release→acquire arrow, the stale reads marked, each step linked to its source line.
    assert!(sw_upto(total) >= 1, "no synchronizes-with edge in {trace}");
    let names = lab.contents("#trace .step .loc-name");
    assert_eq!(names.len(), total);
    for name in ["head", "next[A]"] {
        assert!(names.iter().any(|n| n == name), "no {name} in {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.starts_with('#')),
        "an unnamed location in {names:?}"
    );
    for (k, s) in steps.iter().enumerate() {
        // In its thread's column, linked to its source line.
        let col = format!("#trace .thread-col[data-thread=\"{}\"] {}", s["thread"], sel(k + 1));
        assert_eq!(lab.contents(&col).len(), 1, "{col}");
        let src = lab.contents(&format!("{col} a.src"));
        assert_eq!(src, [s["location"].as_str().unwrap()], "{col}");
    }
    let stale = steps
        .iter()
        .filter(|s| s["note"].as_str().is_some_and(|n| !n.is_empty()));
    assert_eq!(lab.contents("#trace .step.stale").len(), stale.count());
    readme_screenshot(&lab);

    // Prev goes back one step; the last one is in the future again.
    step_to(&lab, "button#step-prev", total - 1, total);
    assert!(lab
        .browser
        .has_class(&lab.browser.find(&format!("#trace {}", sel(total))).unwrap(), "future")
        .unwrap());
    assert_eq!(
        lab.browser.find_all("svg#hb-arrows path.arrow.sw").unwrap().len(),
        sw_upto(total - 1)
    );
}

/// `POST /api/schedule` for the ABA round: the server's Play.
fn play(lab: &Lab, variant: &str, choices: &[u64]) -> Value {
    let body = json!({"demo": "aba", "variant": variant, "choices": choices});
    let (status, play) = lab.post("api/schedule", body);
    assert_eq!(status, 200, "{choices:?}: {play}");
    play
}

/// The op thread `t` performs next, or `None` when it cannot run.
fn next_op(play: &Value, t: u64) -> Option<String> {
    let threads = play["threads"].as_array()?;
    let thread = threads.iter().find(|th| th["id"] == t)?;
    if thread["state"] != "runnable" {
        return None;
    }
    thread["next"]["op"].as_str().map(String::from)
}

/// Clicks the button of thread `t` on the scheduler page and waits for the page to redraw.
fn choose(lab: &Lab, t: u64) {
    let css = format!("button#sched-t{t}");
    let button = lab.shown(&css);
    assert_eq!(
        lab.browser.prop(&button, "disabled").unwrap(),
        json!(false),
        "{css} is disabled"
    );
    lab.browser.click(&button).unwrap();
    // The page redraws the thread buttons after the server answers: the one clicked goes stale.
    lab.browser.wait(&format!("the page to take T{t}'s step"), PAGE, |b| {
        Ok(match b.attr(&button, "id") {
            // Drivers say "stale element reference" for a node gone from the page; some older
            // ones said "no such element".
            Err(e) if e.code == "stale element reference" || e.code == "no such element" => Some(()),
            _ => None,
        })
    });
}

/// Waits until `div#sched-verdict` has `class`, and returns its text.
fn verdict(lab: &Lab, class: &str) -> String {
    lab.browser.wait(&format!("div#sched-verdict.{class}"), PAGE, |b| {
        let v = b.find("div#sched-verdict")?;
        Ok(if b.has_class(&v, class)? {
            Some(b.text(&v)?)
        } else {
            None
        })
    })
}

/// Picks the variant of the scheduler page, and waits for the round to restart.
fn sched_variant(lab: &Lab, variant: &str) {
    let select = lab.shown("select#sched-variant");
    lab.browser.select(&select, variant).unwrap();
    lab.browser.wait("the round to restart", PAGE, |b| {
        let v = b.prop(&b.find("select#sched-variant")?, "value")?;
        let fresh = b.find_all("button#sched-t1:enabled")?.len() == 1;
        Ok((v == json!(variant) && fresh).then_some(()))
    });
}

#[test]
fn being_the_scheduler_breaks_the_broken_aba_stack_and_the_fixed_one_survives() {
    let Some(lab) = Lab::open("scheduler-aba") else { return };
    // The ABA schedule, told in ops: T1 reads the head and its next, and stalls before its CAS;
    // T2 runs to its end (pop A, pop B, push into the recycled A); then T1's stale CAS. The
    // server's step counts say how many clicks each part is.
    let mut choices = Vec::new();
    while !next_op(&play(&lab, "broken", &choices), 1)
        .expect("T1 finished before any CAS")
        .contains("compare")
    {
        choices.push(1);
        assert!(choices.len() < 50, "T1 never reaches a CAS");
    }
    assert!(choices.len() >= 2, "T1 reads the head and its next first");
    for t in [2, 1] {
        while next_op(&play(&lab, "broken", &choices), t).is_some() {
            choices.push(t);
            assert!(choices.len() < 200, "T{t} never finishes");
        }
    }
    let end = play(&lab, "broken", &choices);
    assert_eq!(end["done"], true, "{end}");
    assert_eq!(
        end["verdict"]["broken"], true,
        "the ABA schedule {choices:?} broke nothing"
    );

    lab.go("#/scheduler/aba");
    sched_variant(&lab, "broken");
    for &t in &choices {
        choose(&lab, t);
    }
    let text = verdict(&lab, "broken");
    assert!(text.contains("broke"), "{text}");
    let memory = lab.contents("div#sched-state").concat();
    assert!(memory.contains("head"), "the memory panel names head: {memory}");
    artifact(&lab, "scheduler-aba-broken");

    // The same choices on the tagged stack: it survives.
    lab.click("button#sched-replay-fixed");
    let text = verdict(&lab, "survived");
    assert!(text.contains("survived"), "{text}");
    let v = lab.browser.find("div#sched-verdict").unwrap();
    assert!(!lab.browser.has_class(&v, "broken").unwrap());
}

/// A screenshot of a test's page before its end, beside the final ones.
fn artifact(lab: &Lab, name: &str) {
    let path = target_dir().join(format!("browser-screenshots/{name}.png"));
    lab.browser.screenshot(&path).unwrap();
}

#[test]
fn a_losing_schedule_does_not_break_the_aba_stack() {
    let Some(lab) = Lab::open("scheduler-aba-losing") else {
        return;
    };
    // T1 pops to its end before T2 starts: nothing is recycled under T1, so nothing breaks.
    lab.go("#/scheduler/aba");
    sched_variant(&lab, "broken");
    let mut choices = Vec::new();
    for t in [1, 2] {
        while next_op(&play(&lab, "broken", &choices), t).is_some() {
            choose(&lab, t);
            choices.push(t);
            assert!(choices.len() < 200, "T{t} never finishes");
        }
    }
    assert_eq!(play(&lab, "broken", &choices)["verdict"]["broken"], false);
    let text = verdict(&lab, "survived");
    let v = lab.browser.find("div#sched-verdict").unwrap();
    assert!(!lab.browser.has_class(&v, "broken").unwrap(), "{text}");
}

/// Types `value` into `input`, runs, and expects `div#error` to say what the server says to
/// `body`, in one line, with no job started.
fn bad_parameter(lab: &Lab, input: &str, value: &str, body: Value) {
    let (status, answer) = lab.post("api/run", body.clone());
    assert_eq!(status, 400, "{body} was accepted: {answer}");
    let message = answer["error"].as_str().unwrap().to_string();
    lab.type_into(input, value);
    lab.click("button#run");
    let shown = lab.shown("div#error");
    let text = lab.browser.text(&shown).unwrap();
    assert!(
        text.contains(&message),
        "div#error says `{text}`, the server `{message}`"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    assert_eq!(lab.get("api/status")["busy"], Value::Null);
    assert!(lab.table("table#result-table").is_empty());
}

#[test]
fn a_bad_parameter_shows_the_servers_one_line_error() {
    let Some(lab) = Lab::open("bad-parameter") else { return };
    lab.go("#/demo/lost-update");
    let body = json!({"demo": "lost-update", "iterations": 0});
    bad_parameter(&lab, "#controls input[name=iterations]", "0", body);

    // A size that must be a power of two (the first demo that has one), typed into its number
    // box as a value in range that is not a power of two.
    let catalogue = lab.get("api/demos");
    let (demo, param) = catalogue["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["demos"].as_array().unwrap())
        .find_map(|d| {
            let params = d["params"].as_array()?;
            let p = params.iter().find(|p| p["kind"]["Number"]["power_of_two"] == true)?;
            Some((d["name"].as_str()?.to_string(), p.clone()))
        })
        .expect("a demo with a power-of-two parameter");
    let kind = &param["kind"]["Number"];
    let (min, max) = (kind["min"].as_u64().unwrap(), kind["max"].as_u64().unwrap());
    let odd = (min..=max).find(|v| !v.is_power_of_two()).unwrap().to_string();
    let name = param["name"].as_str().unwrap();
    lab.go(&format!("#/demo/{demo}"));
    let body = json!({"demo": demo, "params": {name: odd}});
    let input = format!("#controls input[type=number][name=param-{name}]");
    bad_parameter(&lab, &input, &odd, body);
}
