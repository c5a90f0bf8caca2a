//! A small W3C WebDriver client over Debian's ChromeDriver and headless Chromium, enough to drive
//! the console as a person would: open pages, type, click, press keys, read the page, take
//! screenshots.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser is installed; when it is not, the browser tests say so and pass unless
/// `TECHMARKET_BROWSER_TESTS=required` (as `.ci/run` sets after installing it).
pub fn available() -> bool {
    let there = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !there {
        assert!(
            std::env::var("TECHMARKET_BROWSER_TESTS").as_deref() != Ok("required"),
            "the browser tests are required but {CHROMIUM} or {CHROMEDRIVER} is missing: \
             apt-get install chromium chromium-driver fonts-noto-cjk"
        );
        eprintln!("browser tests skipped: install chromium and chromium-driver (Debian) to run them");
    }
    there
}

/// One browser at one window size, closed (with its driver) when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start(width: u32, height: u32) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--lang=zh-CN", "--hide-scrollbars", "--force-device-scale-factor=1",
                         format!("--window-size={width},{height}"),
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let r: Value =
            http.post(format!("{base}/session")).json(&capabilities).send().await.unwrap().json().await.unwrap();
        let session = r["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no browser session: {r}")).to_string();
        let browser = Browser { driver, base, session, http, _profile: profile };
        // The viewport, not the window, at the size asked (headless windows have no chrome).
        browser.command("POST", "/window/rect", json!({"width": width, "height": height})).await;
        browser
    }

    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let r: Value = request.send().await.expect("webdriver request").json().await.expect("webdriver answer");
        if r["value"].get("error").is_some() {
            panic!("webdriver {method} {path}: {}", r["value"]);
        }
        r["value"].clone()
    }

    pub async fn open(&self, url: &str) {
        self.command("POST", "/url", json!({"url": url})).await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page and returns its value.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.command("POST", "/execute/sync", json!({"script": script, "args": args})).await
    }

    /// The elements matching `css` now.
    pub async fn all(&self, css: &str) -> Vec<String> {
        let found = self.command("POST", "/elements", json!({"using": "css selector", "value": css})).await;
        let found = found.as_array().unwrap_or_else(|| panic!("elements `{css}`: {found}"));
        found
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap_or_else(|| panic!("element `{css}`: {e}")).to_string())
            .collect()
    }

    /// Waits up to 10 s for an element matching `css`.
    pub async fn wait(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(first) = self.all(css).await.into_iter().next() {
                return first;
            }
            if Instant::now() > deadline {
                let text = self.text_of_page().await;
                panic!("no element `{css}` appeared; the page says: {text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to 10 s until the page's text contains `text`.
    pub async fn wait_for_text(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let page = self.text_of_page().await;
            if page.contains(text) {
                return;
            }
            assert!(Instant::now() < deadline, "the page never said `{text}`; it says: {page}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn text_of_page(&self) -> String {
        self.run("return document.body.innerText", json!([])).await.as_str().unwrap_or_default().to_string()
    }

    pub async fn html_of_page(&self) -> String {
        self.run("return document.documentElement.outerHTML", json!([])).await.as_str().unwrap_or_default().to_string()
    }

    pub async fn text(&self, element: &str) -> String {
        self.command("GET", &format!("/element/{element}/text"), json!({})).await.as_str().unwrap().to_string()
    }

    pub async fn click(&self, css: &str) {
        let element = self.wait(css).await;
        self.command("POST", &format!("/element/{element}/click"), json!({})).await;
    }

    /// Types `text` into the field matching `css` (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.wait(css).await;
        self.command("POST", &format!("/element/{element}/clear"), json!({})).await;
        self.command("POST", &format!("/element/{element}/value"), json!({"text": text})).await;
    }

    /// Chooses the option whose value is `value` in the select matching `css`.
    pub async fn choose(&self, css: &str, value: &str) {
        self.wait(css).await;
        let chosen = self
            .run(
                "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
                 s.dispatchEvent(new Event('change', {bubbles: true})); return s.value;",
                json!([css, value]),
            )
            .await;
        assert_eq!(chosen, json!(value), "no option `{value}` in `{css}`");
    }

    /// Presses keys on whatever has the focus, as a person at the keyboard would.
    pub async fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        self.command("POST", "/actions", json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}))
            .await;
    }

    /// Shift+Tab: the focus moves back.
    pub async fn shift_tab(&self) {
        let actions = json!([{"type": "keyDown", "value": "\u{E008}"}, {"type": "keyDown", "value": "\u{E004}"},
                             {"type": "keyUp", "value": "\u{E004}"}, {"type": "keyUp", "value": "\u{E008}"}]);
        self.command("POST", "/actions", json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}))
            .await;
    }

    /// The focused element's tag, class and text (the first 60 characters).
    pub async fn focused(&self) -> String {
        self.run(
            "const e = document.activeElement; return e.tagName + '.' + e.className + ' ' + e.innerText.slice(0, 60);",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Saves a PNG of the viewport, from the top of the page.
    pub async fn screenshot(&self, path: &Path) {
        self.run("window.scrollTo(0, 0)", json!([])).await;
        use base64::Engine;
        let data = self.command("GET", "/screenshot", json!({})).await;
        let png = base64::engine::general_purpose::STANDARD.decode(data.as_str().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Saves a PNG of the whole page, however long, at the window's width.
    pub async fn full_screenshot(&self, path: &Path, width: u32) {
        let height = self.run("return document.documentElement.scrollHeight", json!([])).await.as_u64().unwrap_or(900);
        let height = height.clamp(600, 4000) as u32;
        self.command("POST", "/window/rect", json!({"width": width, "height": height})).await;
        self.screenshot(path).await;
    }

    /// The browser's console since the last call: uncaught errors, failed loads and the
    /// Content-Security-Policy's refusals among them.
    pub async fn log(&self) -> Vec<String> {
        let entries = self.command("POST", "/se/log", json!({"type": "browser"})).await;
        entries
            .as_array()
            .map(|a| a.iter().map(|e| format!("{} {}", e["level"], e["message"])).collect())
            .unwrap_or_default()
    }

    /// The value of the HttpOnly session cookie, which the page's script cannot read.
    pub async fn session_cookie(&self) -> String {
        self.command("GET", "/cookie/tm_session", json!({})).await["value"].as_str().unwrap().to_string()
    }

    /// Ends the session (Chromium exits), then the driver.
    pub async fn close(self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The session ends with its driver; Chromium exits when the driver goes.
        let _ = std::process::Command::new("kill").arg(self.driver.id().to_string()).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
