//! A real Chromium driven through Debian's chromedriver over the W3C
//! WebDriver protocol (JSON over HTTP, spoken here with reqwest): pages are
//! loaded, clicked and typed into as a person would, and scripts run in
//! them (axe-core among them). A test that cannot start the driver fails,
//! naming what to install.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session on it; both end on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver (`TIERWATCH_CHROMEDRIVER`, default `chromedriver`)
    /// and a headless Chromium (`TIERWATCH_CHROMIUM`, default `chromium`)
    /// with a window of `width` × `height`.
    pub async fn start(width: u32, height: u32) -> Browser {
        let driver_bin = std::env::var("TIERWATCH_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chromium = std::env::var("TIERWATCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let chromium = which(&chromium);
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{driver_bin}` ({e}): apt-get install chromium-driver, or set TIERWATCH_CHROMEDRIVER"
                )
            });
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not answer on {base}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({ "binary": chromium, "args": args });
        // Chromium's windows are at least 500 px wide; narrower is a phone,
        // emulated at exactly that size.
        if width < 500 {
            options["mobileEmulation"] =
                json!({ "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0 } });
        }
        let caps =
            json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": options } } });
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("json");
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver refused a session: {answer}"))
            .to_owned();
        Browser { driver, base, session, http, _profile: profile }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let answer: Value = req.send().await.expect("webdriver call").json().await.expect("webdriver json");
        if answer["value"].get("error").is_some() {
            panic!("webdriver {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    /// Loads `url` and waits for its load event.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    /// The address of the page shown.
    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching a CSS selector; fails naming it.
    pub async fn find(&self, css: &str) -> Element {
        let v =
            self.call(reqwest::Method::POST, "/element", Some(json!({ "using": "css selector", "value": css }))).await;
        Element(v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element `{css}`: {v}")).to_owned())
    }

    /// Clicks an element.
    pub async fn click(&self, e: &Element) {
        self.call(reqwest::Method::POST, &format!("/element/{}/click", e.0), Some(json!({}))).await;
    }

    /// Types text into an element.
    pub async fn type_into(&self, e: &Element, text: &str) {
        self.call(reqwest::Method::POST, &format!("/element/{}/value", e.0), Some(json!({ "text": text }))).await;
    }

    /// Runs a script in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": [] }))).await
    }

    /// Runs an asynchronous script (its last argument is the callback).
    pub async fn eval_async(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/timeouts", Some(json!({ "script": 60_000 }))).await;
        self.call(reqwest::Method::POST, "/execute/async", Some(json!({ "script": script, "args": [] }))).await
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.eval("return document.body.innerText").await.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until `script` returns true, up to `limit`; fails naming `what`.
    pub async fn wait_for(&self, what: &str, script: &str, limit: Duration) {
        let started = Instant::now();
        loop {
            if self.eval(script).await == Value::Bool(true) {
                return;
            }
            assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the browser session (Chromium exits), then the driver.
    pub async fn quit(self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(&url).send().await;
    }
}

impl Drop for Browser {
    /// Ends the session (so Chromium exits even when a test failed before
    /// `quit`), then the driver. Blocking on purpose: a drop cannot await.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let address = self.base.trim_start_matches("http://").to_owned();
        if let Ok(mut stream) = std::net::TcpStream::connect(&address) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `name` as a path: itself when it has a slash, else found on PATH.
fn which(name: &str) -> String {
    if name.contains('/') {
        return name.to_owned();
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
        .map_or_else(|| name.to_owned(), |p| p.display().to_string())
}
