//! The console in a real browser (headless Chromium from Debian's packages, driven by WebDriver):
//! a manager's day and an enterprise's from sign-in to the database, an outsider who sees nothing
//! hidden, hostile titles shown as text, both widths, the keyboard alone. The pages' files and
//! their security headers are checked without a browser.

mod webdriver;

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Actor, TestApp, fresh_database_url, spawn_app, start, test_config_with};
use crate::sessions::with_password;
use webdriver::Browser;

/// One browser at a time: two cores run Chromium, the service and the test.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The page's form controls that a screen reader would read without a name.
const UNLABELLED: &str = "return [...document.querySelectorAll('input, select, textarea')]\
    .filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.id || e.className)";

const PASSWORD: &str = "科技大市场-控制台-2026";

/// Where screenshots go: `TECHMARKET_SCREENSHOTS` (as the README's screenshots were made), else
/// a temporary folder.
fn screenshots() -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var("TECHMARKET_SCREENSHOTS") {
        Ok(dir) => {
            std::fs::create_dir_all(&dir).unwrap();
            (PathBuf::from(dir), None)
        }
        Err(_) => {
            let dir = tempfile::tempdir().unwrap();
            (dir.path().to_path_buf(), Some(dir))
        }
    }
}

async fn sign_in(browser: &Browser, app: &TestApp, login: &str) {
    browser.open(&app.url("/console/")).await;
    browser.fill("#login", login).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait("#sign-out").await;
}

/// Goes to a page of the console by its address after `#`, and waits for its heading.
async fn visit(browser: &Browser, app: &TestApp, hash: &str) {
    browser.open(&app.url(&format!("/console/{hash}"))).await;
    browser.wait("main h1").await;
}

async fn docking(app: &TestApp, token: &str, id: &str) -> Value {
    let r = app.get(&format!("/api/v1/dockings/{id}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// A need of an enterprise and two achievements of a university that answer it, suggested.
async fn market(app: &TestApp) -> (Actor, Actor, Actor, Value, Vec<Value>) {
    let manager = app.manager().await;
    let enterprise = app.enterprise("东营蓝海化工新材料有限公司").await;
    let university = app.university("中国石油大学（华东）").await;
    let need = app.create_need(&enterprise, json!({})).await;
    let first = app.create_achievement(&university, json!({})).await;
    let second = app
        .create_achievement(
            &university,
            json!({"title": "电解液溶剂分子筛吸附深度脱水技术", "trl": 3, "stage": "laboratory",
                   "contact": {"name": "王海", "phone": "0546-8391234", "email": "wangh@example.cn"}}),
        )
        .await;
    // Both suggested, whether by the background matcher or here.
    let queue = format!("/api/v1/dockings/queue?need_id={}", need["id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        app.search.catch_up().await.unwrap();
        app.matcher.run_pending().await.unwrap();
        let r = app.get(&queue, &manager.token).await;
        if r.body["items"].as_array().is_some_and(|items| items.len() == 2) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the pairs were never suggested: {}", r.text);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (manager, enterprise, university, need, vec![first, second])
}

#[tokio::test]
async fn the_console_is_served_from_the_binary_under_a_strict_policy() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::FOUND);
    assert_eq!(home.headers()["location"], "/console/");
    let page = client.get(app.url("/console/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{policy}");
    for directive in
        ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]
    {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    assert!(html.contains("lang=\"zh-CN\"") && !html.contains("<style") && !html.contains(" style="));
    // Every file the page loads is the service's own, and nothing is inline.
    let mut loaded = 0;
    for (at, _) in html.match_indices("src=\"").chain(html.match_indices("href=\"")) {
        let value = html[at..].split('"').nth(1).unwrap();
        assert!(value.starts_with("/console/"), "{value} is not served by the binary");
        let r = client.get(app.url(value)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{value}");
        assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        loaded += 1;
    }
    assert_eq!(loaded, 3, "the script, the styles and the icon");
    assert!(!html.contains("<script>"), "no inline script");
    let script = client.get(app.url("/console/console.js")).send().await.unwrap().text().await.unwrap();
    for unsafe_sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
        assert!(!script.contains(unsafe_sink), "the console's script uses {unsafe_sink}");
    }
    let missing = client.get(app.url("/console/other.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "route_not_found");
}

/// The manager's day, by keyboard and mouse: sign in, the queue strongest first with its reasons,
/// accept one (A) and reject the other with a reason (R), introduce, negotiate, record the signed
/// contract and a milestone, the statistics, an import's dry run; each step checked in the
/// database through the API. Screenshots of each page at 1280 px.
#[tokio::test]
async fn a_manager_works_through_the_day_in_the_browser() {
    if !webdriver::available() {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    let (manager, _enterprise, _university, need, achievements) = market(&app).await;
    let login = with_password(&app, &manager, "manager@market.example.cn", PASSWORD).await;
    let need_id = need["id"].as_str().unwrap();
    let queue = app.get(&format!("/api/v1/dockings/queue?need_id={need_id}"), &manager.token).await;
    let suggested: Vec<Value> = queue.body["items"].as_array().unwrap().clone();
    assert_eq!(suggested.len(), 2, "both achievements suggested: {}", queue.text);
    let (shots, _keep) = screenshots();

    let browser = Browser::start(1280, 900).await;
    sign_in(&browser, &app, &login).await;
    // The manager lands on the queue, strongest first, with the score and the reasons.
    browser.wait("#queue article").await;
    let cards = browser.all("#queue article").await;
    assert_eq!(cards.len(), 2);
    let first_text = browser.text(&cards[0]).await;
    let best = &suggested[0];
    assert!(first_text.contains(best["achievement"]["title"].as_str().unwrap()), "{first_text}");
    let score = format!("匹配度 {}%", (best["score"].as_f64().unwrap() * 100.0).round());
    assert!(first_text.contains(&score), "{score} in {first_text}");
    assert!(first_text.contains("共同技术词") && first_text.contains("结构化匹配"), "{first_text}");
    let second_text = browser.text(&cards[1]).await;
    assert!(second_text.contains("差一点"), "the weaker pair's near miss: {second_text}");
    browser.screenshot(&shots.join("day-queue-1280.png")).await;

    // The keyboard alone: the first card has the focus; A accepts it, the next card takes the
    // focus, R opens its reasons.
    assert!(browser.focused().await.starts_with("ARTICLE"), "{}", browser.focused().await);
    browser.keys("a").await;
    browser.wait_for_text("已接受").await;
    let accepted_id = best["id"].as_str().unwrap();
    assert_eq!(docking(&app, &manager.token, accepted_id).await["state"], "accepted");
    browser.keys("r").await;
    assert!(browser.focused().await.starts_with("SELECT.reason"), "{}", browser.focused().await);
    // Without a reason the API's refusal is shown in Chinese where it happened.
    browser.click("#queue article button.confirm-reject").await;
    browser.wait("#queue article .error").await;
    let refusal = browser.text(&browser.wait("#queue article .error").await).await;
    assert!(refusal.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{refusal}");
    browser.choose("#queue article select.reason", "trl_too_low").await;
    browser.click("#queue article button.confirm-reject").await;
    browser.wait_for_text("没有待审的推荐").await;
    let rejected = docking(&app, &manager.token, suggested[1]["id"].as_str().unwrap()).await;
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["reason"], "trl_too_low");

    // The need's page: its details and its matches.
    visit(&browser, &app, &format!("#/needs/{need_id}")).await;
    browser.wait_for_text("可解决此需求的成果").await;
    let page = browser.text_of_page().await;
    assert!(page.contains(achievements[0]["title"].as_str().unwrap()) && page.contains("13905461202"), "{page}");
    browser.full_screenshot(&shots.join("day-need-1280.png"), 1280).await;
    // And the other way round, from the achievement.
    visit(&browser, &app, &format!("#/achievements/{}", achievements[0]["id"].as_str().unwrap())).await;
    browser.wait_for_text("可能需要此成果的企业需求").await;
    assert!(browser.text_of_page().await.contains(need["title"].as_str().unwrap()));

    // The docking: introduce, negotiate, sign with the contract, then a milestone.
    visit(&browser, &app, &format!("#/dockings/{accepted_id}")).await;
    browser.click("button[data-action=introduce]").await;
    browser.wait_for_text("已引荐").await;
    browser.click("button[data-action=negotiate]").await;
    browser.wait("button[data-action=sign]").await;
    assert_eq!(docking(&app, &manager.token, accepted_id).await["state"], "negotiating");
    browser.click("button[data-action=sign]").await;
    browser.choose("#c-type", "transfer").await;
    browser.fill("#c-amount", "350.25").await;
    browser.fill("#c-registration", "2026370502000123").await;
    browser.screenshot(&shots.join("day-docking-1280.png")).await;
    browser.click("#contract button[type=submit]").await;
    browser.wait("#milestone").await;
    let signed = docking(&app, &manager.token, accepted_id).await;
    assert_eq!(signed["state"], "signed");
    let transfers = app.get(&format!("/api/v1/transfers?docking_id={accepted_id}"), &manager.token).await;
    let transfer = &transfers.body["items"][0];
    assert_eq!(transfer["amount"], "350.25");
    assert_eq!(transfer["registration_number"], "2026370502000123");
    // In the database itself: the docking signed, its contract stored exactly.
    let stored = app.store.get_docking(accepted_id).await.unwrap().unwrap();
    assert_eq!(stored.state.code(), "signed");
    let stored = app.store.get_transfer(transfer["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.content.amount.to_string(), "350.25");
    browser.choose("#m-kind", "pilot").await;
    browser.fill("#m-note", "中试线连续运行72小时").await;
    browser.fill("#m-evidence", "中试报告 DY-ZS-2026-031").await;
    browser.click("#milestone button[type=submit]").await;
    browser.wait_for_text("中试线连续运行72小时").await;
    let t = app.get(&format!("/api/v1/transfers/{}", transfer["id"].as_str().unwrap()), &manager.token).await;
    assert_eq!(t.body["milestones"][0]["kind"], "pilot");
    assert_eq!(t.body["milestones"][0]["evidence"], json!(["中试报告 DY-ZS-2026-031"]));

    // The board shows it among the signed; the history has every step.
    visit(&browser, &app, &format!("#/dockings/{accepted_id}")).await;
    let history = browser.text_of_page().await;
    for step in ["已签约", "已引荐", "查看合同与里程碑"] {
        assert!(history.contains(step), "{step} in {history}");
    }
    visit(&browser, &app, "#/dockings").await;
    browser.wait_for_text("已签约（1）").await;
    browser.screenshot(&shots.join("day-board-1280.png")).await;

    // The statistics: the contract's amount beside the charts.
    visit(&browser, &app, "#/stats").await;
    browser.wait("svg.chart").await;
    assert_eq!(browser.text(&browser.wait("#total-amount").await).await, "350.25 万元");
    browser.full_screenshot(&shots.join("day-stats-1280.png"), 1280).await;

    // An import's dry run: every row's problem, nothing written.
    let before =
        app.get("/api/v1/achievements?limit=100", &manager.token).await.body["items"].as_array().unwrap().len();
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("成果导入.csv");
    std::fs::write(
        &file,
        "外部编号,单位,成果名称,成果简介,关键词,技术领域,成果类型,技术成熟度,报价(万元),联系人\n\
         UPC-2026-101,中国石油大学（华东）,高盐废水分质结晶资源化技术,分质结晶回收硫酸钠与氯化钠。,高盐废水,油气勘探开发,patent,6,120,王教授\n\
         UPC-2026-102,中国石油大学（华东）,,缺少名称的一行,,油气勘探开发,专利,12,,\n",
    )
    .unwrap();
    visit(&browser, &app, "#/import").await;
    browser.choose("#i-library", "achievements").await;
    browser.fill("#i-file", file.to_str().unwrap()).await;
    browser.click("#i-check").await;
    browser.wait("#import-report").await;
    let report = browser.text(&browser.wait("#import-report").await).await;
    assert!(report.contains("共 2 行：可新建 1，有误 1") && report.contains("尚未写入"), "{report}");
    assert!(report.contains("成果名称") && report.contains("技术成熟度"), "each row's problems: {report}");
    browser.screenshot(&shots.join("day-import-1280.png")).await;
    let after = app.get("/api/v1/achievements?limit=100", &manager.token).await.body["items"].as_array().unwrap().len();
    assert_eq!(before, after, "a dry run writes nothing");

    let log = browser.log().await;
    assert!(log.iter().all(|l| !l.contains("Content Security Policy")), "{log:?}");
    browser.close().await;
}

/// An enterprise's day: its own needs (post, see a field's error in Chinese beside it, edit,
/// renew), then the introduction a manager made, with the university's contact.
#[tokio::test]
async fn an_enterprise_posts_edits_and_renews_its_needs_and_sees_its_introductions() {
    if !webdriver::available() {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    let (manager, enterprise, _university, need, achievements) = market(&app).await;
    let login = with_password(&app, &enterprise, "13905461201", PASSWORD).await;
    let (shots, _keep) = screenshots();
    let browser = Browser::start(1280, 900).await;
    sign_in(&browser, &app, &login).await;
    browser.wait_for_text("我的需求").await;
    assert!(browser.text_of_page().await.contains(need["title"].as_str().unwrap()));

    // Post a need from the form; a bad region is refused beside the field, in Chinese.
    browser.click("a[href='#/needs/new']").await;
    browser.fill("#f-title", "海上风电塔筒防腐涂层在线修复").await;
    browser
        .fill("#f-description", "盐雾环境下塔筒涂层三年即出现剥落，希望不停机在线修复，修复后耐盐雾≥3000小时。")
        .await;
    browser.choose("#f-need_type", "tech_breakthrough").await;
    browser.choose("#f-field", "new_materials").await;
    browser.fill("#f-keywords", "防腐涂层，海上风电").await;
    browser.fill("#f-budget_max", "300").await;
    browser.fill("#f-region", "3705").await;
    browser.click("#f-cooperation_modes input[value=joint_development]").await;
    browser.fill("#f-contact-name", "张建国").await;
    browser.fill("#f-contact-phone", "13905461201").await;
    browser.click("form button[type=submit]").await;
    let beside = browser.wait(".field-error[data-field=region]:not(:empty)").await;
    let message = browser.text(&beside).await;
    assert!(message.contains("地区"), "{message}");
    browser.fill("#f-region", "370502").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_text("企业需求").await;
    browser.wait("button.renew").await;
    let mine = app.get(&format!("/api/v1/needs?org_id={}", enterprise.org_id), &enterprise.token).await;
    let posted =
        mine.body["items"].as_array().unwrap().iter().find(|n| n["title"] == "海上风电塔筒防腐涂层在线修复").cloned();
    let posted = posted.expect("the need from the form is in the database");
    assert_eq!(posted["budget_max"], 300.0);
    assert_eq!(posted["keywords"], json!(["防腐涂层", "海上风电"]));
    assert_eq!(posted["cooperation_modes"], json!(["joint_development"]));
    let id = posted["id"].as_str().unwrap().to_string();

    // Edit it: the version read goes with the change.
    browser.click(&format!("a[href='#/needs/{id}/edit']")).await;
    browser.fill("#f-title", "海上风电塔筒防腐涂层不停机在线修复").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_text("不停机在线修复").await;
    let edited = app.get(&format!("/api/v1/needs/{id}"), &enterprise.token).await;
    assert_eq!(edited.body["version"], 2);
    // Renew it: confirmed again.
    let confirmed = edited.body["confirmed_at"].clone();
    browser.wait("button.renew").await;
    browser.click("button.renew").await;
    browser.wait_for_text("已续期").await;
    let renewed = app.get(&format!("/api/v1/needs/{id}"), &enterprise.token).await;
    assert_ne!(renewed.body["confirmed_at"], confirmed);
    browser.full_screenshot(&shots.join("day-enterprise-need-1280.png"), 1280).await;

    // The manager accepts and introduces; the enterprise sees the docking with the contact.
    let queue =
        app.get(&format!("/api/v1/dockings/queue?need_id={}", need["id"].as_str().unwrap()), &manager.token).await;
    let d = queue.body["items"][0]["id"].as_str().unwrap().to_string();
    for action in ["accept", "introduce"] {
        let r = app.post(&format!("/api/v1/dockings/{d}/{action}"), &manager.token, json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    visit(&browser, &app, "#/dockings").await;
    browser.wait_for_text("已引荐对接（1）").await;
    browser.screenshot(&shots.join("day-enterprise-dockings-1280.png")).await;
    visit(&browser, &app, &format!("#/dockings/{d}")).await;
    let page = browser.text_of_page().await;
    let shown = achievements.iter().find(|a| page.contains(a["title"].as_str().unwrap())).expect("the achievement");
    assert!(page.contains(shown["contact"]["phone"].as_str().unwrap()), "the contact after the introduction: {page}");
    assert!(!page.contains("推荐理由"), "no matcher explanation for a party: {page}");
    // The enterprise marks its interest.
    browser.click("button[data-action=interest]").await;
    browser.wait_for_text("已表达意向").await;
    assert_eq!(docking(&app, &enterprise.token, &d).await["need_interest"], true);
    browser.close().await;
}

/// An outsider sees nothing hidden: another organisation's private need, a docking it is not a
/// party to, and contacts stay out of every page it opens (the page's HTML, not only its text).
/// Hostile titles are shown as text, nothing runs. Sign-out ends the session; a cookie write
/// without the CSRF token is refused.
#[tokio::test]
async fn an_outsider_sees_nothing_hidden_and_hostile_titles_stay_text() {
    if !webdriver::available() {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    let (manager, enterprise, _university, need, _achievements) = market(&app).await;
    let secret = app
        .create_need(
            &enterprise,
            json!({"title": "机密：催化剂配方替代攻关", "visibility": "private",
                   "contact": {"name": "保密联系人", "phone": "13911112222"}}),
        )
        .await;
    let queue = app.get("/api/v1/dockings/queue", &manager.token).await;
    let suggestion = queue.body["items"][0]["id"].as_str().unwrap_or_else(|| panic!("{}", queue.text)).to_string();
    let outsider = app.enterprise("东营市外来科技有限公司").await;
    let hostile =
        ["<script>window.__pwned = 1</script>储能系统", "\"><img src=x onerror=\"window.__pwned = 2\">热管理"];
    let mut hostile_ids = Vec::new();
    for title in hostile {
        let r = app.create_need(&outsider, json!({"title": title, "keywords": ["<b>粗体</b>"]})).await;
        hostile_ids.push(r["id"].as_str().unwrap().to_string());
    }
    let login = with_password(&app, &outsider, "outsider@example.cn", PASSWORD).await;
    let browser = Browser::start(1280, 900).await;
    sign_in(&browser, &app, &login).await;

    let never = ["机密", "13911112222", "保密联系人", "13905461202", "liusy@example.cn"];
    let pages = [
        format!("#/needs/{}", secret["id"].as_str().unwrap()),
        format!("#/dockings/{suggestion}"),
        format!("#/needs/{}", need["id"].as_str().unwrap()),
        "#/records/needs".to_string(),
        "#/dockings".to_string(),
        "#/notifications".to_string(),
        "#/transfers".to_string(),
    ];
    for hash in &pages {
        browser.open(&app.url(&format!("/console/{hash}"))).await;
        browser.wait("main h1, main .error").await;
        let html = browser.html_of_page().await;
        for hidden in never {
            assert!(!html.contains(hidden), "{hidden} reached the outsider's page {hash}");
        }
    }
    // The private need is answered as the API answers it: not found, in Chinese.
    browser.open(&app.url(&format!("/console/#/needs/{}", secret["id"].as_str().unwrap()))).await;
    let error = browser.text(&browser.wait("main .error").await).await;
    assert!(error.contains("没有编号为") && error.contains("无权查看"), "{error}");

    // Hostile titles: shown as the text they are, in the list and on their pages; nothing ran.
    visit(&browser, &app, "#/records/needs").await;
    browser.wait_for_text("储能系统").await;
    for (title, id) in hostile.iter().zip(&hostile_ids) {
        assert!(browser.text_of_page().await.contains(title), "{title} shown as text");
        visit(&browser, &app, &format!("#/needs/{id}")).await;
        let heading = browser.text(&browser.wait("main h1").await).await;
        assert_eq!(&heading, title);
        assert!(browser.text_of_page().await.contains("<b>粗体</b>"));
        visit(&browser, &app, "#/records/needs").await;
    }
    let ran = browser
        .run(
            "return [window.__pwned === undefined, document.querySelectorAll('main script, main img, main b').length]",
            json!([]),
        )
        .await;
    assert_eq!(ran, json!([true, 0]), "no markup from a title became an element");
    let log = browser.log().await;
    assert!(log.iter().all(|l| !l.contains("Content Security Policy")), "{log:?}");

    // A write carried by the cookie but without the CSRF token (what a cross-site form could
    // send) is refused.
    let refused = browser
        .run(
            "return fetch('/api/v1/needs', {method: 'POST', credentials: 'same-origin', \
             headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.json()).then(b => b.error.code)",
            json!([]),
        )
        .await;
    assert_eq!(refused, json!("csrf_rejected"));

    // Sign-out ends the session on the server, not only in the page.
    let cookie = browser.session_cookie().await;
    browser.click("#sign-out").await;
    browser.wait("#login").await;
    let r = app
        .client
        .request(Method::GET, app.url("/api/v1/me"))
        .header("Cookie", format!("tm_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    browser.close().await;
}

/// The demo market (its 45-odd suggestions) in both widths, as the README shows it: every main
/// page of a manager and of an enterprise renders without a script error, and at 390 px (a
/// phone) fits the width with nothing to scroll sideways. From the keyboard alone each control
/// that takes the focus shows it, and every form control has a label.
#[tokio::test]
async fn the_demo_market_renders_at_both_widths_and_from_the_keyboard() {
    if !webdriver::available() {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    // The market's own threshold (the tests' is lower, for their handful of records).
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    let config = test_config_with(&dir, &url, &[("TECHMARKET__MATCHING__THRESHOLD", "0.4")]);
    let app = start(config, std::sync::Arc::new(dir), None).await;
    let seeded = techmarket::demo::seed(&app.context).await.unwrap();
    let login = |variable: &str| seeded.tokens.iter().find(|t| t.variable == variable).unwrap().login.clone();
    let manager = seeded.tokens.iter().find(|t| t.variable == "TM_MANAGER").unwrap().secret.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let waiting = loop {
        app.search.catch_up().await.unwrap();
        app.matcher.run_pending().await.unwrap();
        let r = app.get("/api/v1/dockings/queue?limit=100", &manager).await;
        let waiting = r.body["items"].as_array().unwrap().clone();
        if waiting.len() >= 30 {
            break waiting;
        }
        assert!(std::time::Instant::now() < deadline, "the demo was not matched: {}", waiting.len());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    // One docking further along, so the board and the need's page have something to show.
    // (The demo enterprise's, so that its pages have an introduction to show.)
    let enterprise = &seeded.tokens.iter().find(|t| t.variable == "TM_ENTERPRISE").unwrap().organisation;
    let chosen = waiting.iter().find(|w| &w["need"]["owner"]["name"] == enterprise).unwrap_or(&waiting[0]);
    let d = chosen["id"].as_str().unwrap();
    for action in ["accept", "introduce"] {
        let r = app.post(&format!("/api/v1/dockings/{d}/{action}"), &manager, json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let need_page = format!("#/needs/{}", chosen["need"]["id"].as_str().unwrap());
    let docking_page = format!("#/dockings/{d}");
    let (shots, _keep) = screenshots();
    let people = [
        (
            "TM_MANAGER",
            vec![
                ("#/queue", "queue"),
                (need_page.as_str(), "need"),
                (docking_page.as_str(), "docking"),
                ("#/dockings", "board"),
                ("#/stats", "stats"),
                ("#/import", "import"),
            ],
        ),
        (
            "TM_ENTERPRISE",
            vec![
                ("#/notifications", "enterprise-notifications"),
                ("#/records/needs", "enterprise-needs"),
                (docking_page.as_str(), "enterprise-docking"),
                ("#/dockings", "enterprise-dockings"),
                ("#/needs/new", "enterprise-new-need"),
            ],
        ),
    ];
    let people = [
        people[0].clone(),
        people[1].clone(),
        (
            "TM_UNIVERSITY",
            vec![
                ("#/records/achievements", "university-achievements"),
                ("#/achievements/new", "university-new-achievement"),
            ],
        ),
    ];
    for width in [1280u32, 390] {
        let browser = Browser::start(width, if width == 390 { 844 } else { 900 }).await;
        for (who, pages) in &people {
            browser.open(&app.url("/console/")).await;
            browser.fill("#login", &login(who)).await;
            browser.fill("#password", &seeded.password).await;
            browser.click("form button[type=submit]").await;
            browser.wait("#sign-out").await;
            // Before signing in, the page's question "who am I?" was answered 401, as it should.
            browser.log().await;
            for (hash, name) in pages {
                visit(&browser, &app, hash).await;
                browser.wait("main h1").await;
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                let widths =
                    browser.run("return [document.documentElement.scrollWidth, window.innerWidth]", json!([])).await;
                assert!(widths[0].as_u64() <= widths[1].as_u64(), "{hash} is wider than {width} px: {widths}");
                browser.screenshot(&shots.join(format!("{name}-{width}.png"))).await;
                if *name == "queue" {
                    // Every waiting suggestion (the demo's are fewer than a page) but the one accepted.
                    assert_eq!(browser.all("#queue article").await.len(), (waiting.len() - 1).min(50));
                }
                let unlabelled = browser.run(UNLABELLED, json!([])).await;
                assert_eq!(unlabelled, json!([]), "controls without a label on {hash}");
            }
            let errors: Vec<String> = browser.log().await.into_iter().filter(|l| l.contains("SEVERE")).collect();
            assert!(errors.is_empty(), "script errors at {width} px: {errors:?}");
            browser.click("#sign-out").await;
            browser.wait("#login").await;
        }
        if width == 390 {
            // The keyboard alone, on the manager's queue: Enter signs in, the first suggestion
            // has the focus; back from it, the navigation, then the skip link, each outlined.
            browser.fill("#login", &login("TM_MANAGER")).await;
            browser.fill("#password", &seeded.password).await;
            browser.keys("\u{E007}").await;
            browser.wait("#queue article").await;
            assert!(browser.focused().await.starts_with("ARTICLE"), "{}", browser.focused().await);
            let mut reached_skip = false;
            for step in 0..14 {
                browser.shift_tab().await;
                let focus = browser
                    .run("const e = document.activeElement; return [e.tagName, getComputedStyle(e).outlineStyle, e.textContent.slice(0, 20)]", json!([]))
                    .await;
                assert_ne!(focus[1], "none", "step {step}: the focused control shows no outline: {focus}");
                if focus[2] == "跳到正文" {
                    reached_skip = true;
                    break;
                }
            }
            assert!(reached_skip, "the skip link is the first control of the page");
            browser.keys("\u{E007}").await;
            assert!(browser.focused().await.starts_with("MAIN"), "the skip link moves the focus to the content");
        }
        browser.close().await;
    }
}
