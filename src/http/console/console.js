// The console: a client of the JSON API under /api/v1, in Chinese, with no library.
//
// Everything a page shows comes from the API as the signed-in person may read it; every write is
// an API call with the session cookie and the CSRF token. Record text only ever reaches the page
// as text nodes (`h` below never parses markup), so a title such as "<script>" is shown, not run.
'use strict';

const TIME_ZONE = 'Asia/Shanghai';

// ---- building the page --------------------------------------------------------------------

/** An element with attributes and children; strings become text nodes, never markup. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  for (const child of children.flat()) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function toast(message) {
  const box = document.getElementById('toast');
  box.textContent = message;
  box.classList.add('shown');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove('shown'), 3500);
}

function date(text) {
  if (!text) return '';
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) return text;
  return d.toLocaleString('zh-CN', { timeZone: TIME_ZONE, hour12: false });
}

function marketToday() {
  // The market's calendar is China Standard Time.
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
}

function percent(score) {
  return score === null || score === undefined ? '—' : Math.round(score * 100) + '%';
}

// ---- the API --------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || null;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return '';
}

/** Calls the API; answers its JSON, or throws its error envelope as an ApiError. */
async function api(method, path, body, options = {}) {
  const headers = { Accept: 'application/json', 'Accept-Language': 'zh-CN' };
  if (method !== 'GET') headers['X-CSRF-Token'] = cookie('tm_csrf');
  if (options.ifMatch !== undefined) headers['If-Match'] = '"' + options.ifMatch + '"';
  const init = { method, headers, credentials: 'same-origin' };
  if (options.raw !== undefined) {
    headers['Content-Type'] = options.contentType || 'application/octet-stream';
    init.body = options.raw;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch('/api/v1' + path, init);
  } catch (e) {
    throw new ApiError(0, 'network', '无法连接服务，请检查网络后重试。');
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const failure = new ApiError(response.status, error.code || 'http_' + response.status,
      error.message || '请求失败（HTTP ' + response.status + '）', error.details);
    if (response.status === 401 && path !== '/sessions') {
      state.me = null;
      state.after = location.hash;
      go('#/login');
    }
    throw failure;
  }
  return data;
}

/** An API error where it happened: its Chinese message, and each invalid field. */
function errorBox(error) {
  const box = h('div', { class: 'error', role: 'alert' }, error.message || String(error));
  const fields = error.details && error.details.fields;
  if (Array.isArray(fields) && fields.length) {
    box.append(h('ul', {}, fields.map((f) => h('li', {}, f.message || f.field))));
  }
  const allowed = error.details && error.details.allowed;
  if (Array.isArray(allowed) && error.code === 'invalid_docking_transition') {
    box.append(h('p', {}, '现在可以：' + allowed.map(actionLabel).join('、')));
  }
  return box;
}

/** Runs a write from a button or form, showing its error in `where` and disabling `button`. */
async function attempt(where, button, work) {
  where.replaceChildren();
  if (button) button.disabled = true;
  try {
    return await work();
  } catch (e) {
    where.failure = e;
    where.replaceChildren(errorBox(e));
    const focusable = where.querySelector('.error');
    if (focusable) { focusable.tabIndex = -1; focusable.focus(); }
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// ---- state, vocabularies, navigation ---------------------------------------------------------

const state = { me: null, vocab: null, after: null };

async function vocabularies() {
  if (!state.vocab) state.vocab = await api('GET', '/vocabularies');
  return state.vocab;
}

function label(list, code) {
  const entry = (state.vocab && state.vocab[list] || []).find((e) => e.code === code);
  return entry ? entry.label : code;
}
const actionLabel = (code) => ({ interest: '表达意向', notes: '备注' })[code] || label('docking_actions', code);

function options(list, selected, blank) {
  const entries = (state.vocab && state.vocab[list]) || [];
  return [blank !== undefined ? h('option', { value: '' }, blank) : null,
    entries.map((e) => h('option', { value: e.code, selected: e.code === selected }, e.label))];
}

const isStaff = () => state.me && (state.me.role === 'manager' || state.me.role === 'admin');
const library = () => (state.me && state.me.organisation.kind === 'enterprise' ? 'needs' : 'achievements');

function go(hash) {
  if (location.hash === hash) render(); else location.hash = hash;
}

function navigation() {
  const top = document.getElementById('top');
  const links = [];
  if (state.me) {
    if (isStaff()) {
      links.push(['#/queue', '待审推荐'], ['#/dockings', '对接看板'], ['#/records/needs', '需求库'],
        ['#/records/achievements', '成果库'], ['#/transfers', '落地转化'], ['#/stats', '统计'], ['#/import', '批量导入']);
    } else {
      links.push(['#/records/' + library(), library() === 'needs' ? '我的需求' : '我的成果'],
        ['#/dockings', '对接与引荐'], ['#/transfers', '落地转化'], ['#/import', '批量导入']);
    }
    links.push(['#/notifications', '通知']);
  }
  const current = location.hash.split('?')[0];
  const nav = h('nav', { 'aria-label': '主导航' }, links.map(([href, text]) =>
    h('a', { href, 'aria-current': current === href || current.startsWith(href + '/') ? 'page' : null }, text)));
  const who = state.me
    ? h('div', { class: 'who' }, h('span', {}, state.me.name + ' · ' + state.me.role_label + ' · ' + state.me.organisation.name),
      h('button', { type: 'button', id: 'sign-out', onclick: signOut }, '退出'))
    : null;
  top.replaceChildren(h('span', { class: 'brand' }, '科技大市场'), nav, who);
  if (state.me) unreadBadge(nav.querySelector('a[href="#/notifications"]'));
}

/** The count of unread notifications beside the link (the inbox counts up to 1,000). */
async function unreadBadge(link) {
  try {
    const inbox = await api('GET', '/notifications?limit=1');
    if (inbox.unread > 0) {
      link.append(h('span', { class: 'badge', 'aria-label': inbox.unread + ' 条未读' }, inbox.unread >= 1000 ? '999+' : String(inbox.unread)));
    }
  } catch (e) { /* the badge is a convenience; the page says what went wrong */ }
}

async function signOut() {
  try { await api('DELETE', '/sessions/current'); } catch (e) { /* the session may be over already */ }
  state.me = null;
  go('#/login');
  toast('已退出登录');
}

const PASSWORD_ROUTE = [/^#\/password$/, () => passwordPage()];
const routes = [
  [/^#\/login$/, () => signInPage(), true],
  PASSWORD_ROUTE,
  [/^#\/queue$/, () => queuePage()],
  [/^#\/dockings$/, () => boardPage()],
  [/^#\/dockings\/([\w-]+)$/, (id) => dockingPage(id)],
  [/^#\/records\/(needs|achievements)$/, (lib) => recordsPage(lib)],
  [/^#\/(needs|achievements)\/new$/, (lib) => editPage(lib, null)],
  [/^#\/(needs|achievements)\/([\w-]+)\/edit$/, (lib, id) => editPage(lib, id)],
  [/^#\/(needs|achievements)\/([\w-]+)$/, (lib, id) => recordPage(lib, id)],
  [/^#\/transfers$/, () => transfersPage()],
  [/^#\/transfers\/([\w-]+)$/, (id) => transferPage(id)],
  [/^#\/stats$/, () => statsPage()],
  [/^#\/import$/, () => importPage()],
  [/^#\/notifications$/, () => notificationsPage()],
];

let rendering = 0;
async function render() {
  const ticket = ++rendering;
  const main = document.getElementById('main');
  const hash = location.hash || '#/';
  let route = routes.find(([pattern]) => pattern.test(hash));
  if (!state.me && !(route && route[2])) {
    try {
      state.me = await api('GET', '/me');
    } catch (e) {
      if (e.code === 'password_change_required') {
        state.me = null;
        route = PASSWORD_ROUTE;
      } else {
        if (ticket === rendering && location.hash !== '#/login') { state.after = hash; location.hash = '#/login'; }
        if (e.status !== 401 && ticket === rendering) main.replaceChildren(errorBox(e));
        return;
      }
    }
  }
  if (!route) {
    go(isStaff() ? '#/queue' : '#/records/' + library());
    return;
  }
  navigation();
  main.replaceChildren(h('p', { class: 'loading', role: 'status' }, '正在加载…'));
  let page;
  try {
    await vocabularies();
    page = await route[1](...hash.match(route[0]).slice(1));
  } catch (e) {
    page = h('div', {}, errorBox(e));
  }
  if (ticket !== rendering) return;
  main.replaceChildren(page);
  // For measuring: when the page's content was put in, and painted (the frame after).
  performance.mark('tm:rendered');
  requestAnimationFrame(() => setTimeout(() => performance.mark('tm:painted'), 0));
  document.title = (main.querySelector('h1') ? main.querySelector('h1').textContent + ' · ' : '') + '科技大市场';
  const autofocus = main.querySelector('[data-autofocus]');
  (autofocus || main).focus();
}

// ---- signing in ---------------------------------------------------------------------------

function signInPage() {
  const where = h('div', {});
  const login = h('input', { id: 'login', name: 'login', autocomplete: 'username', required: true, 'data-autofocus': true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit' }, '登录');
  const form = h('form', { class: 'stack card', onsubmit: async (event) => {
    event.preventDefault();
    const signed = await attempt(where, submit, () => api('POST', '/sessions', { login: login.value.trim(), password: password.value }));
    if (!signed) return;
    if (signed.must_change_password) { go('#/password'); return; }
    state.me = signed.user;
    const next = state.after && state.after !== '#/login' ? state.after : '#/';
    state.after = null;
    go(next);
  } },
  h('label', { for: 'login' }, '登录名（手机号或电子邮箱）', login),
  h('label', { for: 'password' }, '密码', password),
  where,
  h('div', { class: 'actions' }, submit));
  return h('section', { class: 'sign-in' }, h('h1', {}, '登录科技大市场工作台'), form,
    h('p', { class: 'muted' }, '企业、高校院所申请入驻请使用 POST /api/v1/applications；技术经理人账号由管理员开设。'));
}

function passwordPage() {
  const where = h('div', {});
  const current = h('input', { id: 'current', type: 'password', autocomplete: 'current-password', required: true, 'data-autofocus': true });
  const next = h('input', { id: 'new', type: 'password', autocomplete: 'new-password', required: true, minlength: 10 });
  const submit = h('button', { type: 'submit' }, '修改密码');
  return h('section', { class: 'sign-in' }, h('h1', {}, '修改密码'),
    h('p', {}, '首次登录或密码被重置后，需要先设置自己的密码（至少 10 个字符）。'),
    h('form', { class: 'stack card', onsubmit: async (event) => {
      event.preventDefault();
      const done = await attempt(where, submit, () => api('PUT', '/me/password', { current_password: current.value, new_password: next.value }));
      if (done === undefined) return;
      state.me = null;
      toast('密码已修改');
      go('#/');
    } }, h('label', { for: 'current' }, '当前密码', current), h('label', { for: 'new' }, '新密码', next), where,
    h('div', { class: 'actions' }, submit)));
}

// ---- the manager's queue ------------------------------------------------------------------

function explanationView(explanation) {
  if (!explanation) return null;
  const terms = (explanation.matched_terms || []).slice(0, 8);
  const fit = (explanation.fit && explanation.fit.items) || [];
  return h('div', { class: 'why' },
    terms.length ? h('p', {}, h('span', { class: 'muted' }, '共同技术词：'),
      terms.map((t) => h('span', { class: 'tag', title: '出现在：' + (t.fields || []).join('、') }, t.term))) : null,
    (explanation.matched_keywords || []).length ? h('p', {}, h('span', { class: 'muted' }, '关键词命中：'),
      explanation.matched_keywords.map((k) => h('span', { class: 'tag' }, k.keyword || k.term || String(k)))) : null,
    fit.length ? h('p', {}, h('span', { class: 'muted' }, '结构化匹配：'),
      fit.map((f) => h('span', { class: 'tag ' + f.status }, f.message))) : null,
    explanation.near_miss ? h('p', { class: 'miss' }, '差一点：' + explanation.near_miss.message) : null);
}

async function queuePage() {
  const page = await api('GET', '/dockings/queue?limit=50');
  const list = h('div', { id: 'queue', role: 'list' });
  let selected = 0;
  const cards = [];
  const select = (i) => {
    if (!cards.length) return;
    selected = Math.max(0, Math.min(i, cards.length - 1));
    cards.forEach((c, j) => c.classList.toggle('selected', j === selected));
    cards[selected].focus();
  };
  const removeCard = (card) => {
    const i = cards.indexOf(card);
    cards.splice(i, 1);
    card.remove();
    if (!cards.length) list.replaceChildren(h('p', { class: 'empty' }, '没有待审的推荐。新的需求和成果发布后，系统会自动推荐。'));
    else select(i);
  };
  const addCard = (d) => {
    const where = h('div', {});
    const rejectForm = h('div', { hidden: true });
    const card = h('article', { class: 'card', tabindex: 0, role: 'listitem', 'data-docking': d.id,
      'aria-label': '推荐：' + d.need.title + ' ↔ ' + d.achievement.title + '，匹配度 ' + percent(d.score) });
    const accept = h('button', { type: 'button', class: 'accept', onclick: async () => {
      const done = await attempt(where, accept, () => api('POST', '/dockings/' + d.id + '/accept', {}));
      if (done) { toast('已接受：' + d.need.title); removeCard(card); }
    } }, '接受 (A)');
    const reason = h('select', { class: 'reason', 'aria-label': '拒绝原因' }, options('reason_codes', null, '选择拒绝原因…'));
    const note = h('input', { class: 'note', 'aria-label': '说明（原因为“其他”时必填）', placeholder: '说明（可选；“其他”必填）' });
    const confirm = h('button', { type: 'button', class: 'danger confirm-reject', onclick: async () => {
      const body = { reason: reason.value || null };
      if (note.value.trim()) body.note = note.value.trim();
      const done = await attempt(where, confirm, () => api('POST', '/dockings/' + d.id + '/reject', body));
      if (done) { toast('已拒绝：' + d.need.title); removeCard(card); }
    } }, '确认拒绝');
    rejectForm.append(h('div', { class: 'actions' }, reason, note, confirm));
    const reject = h('button', { type: 'button', class: 'secondary reject', onclick: () => {
      rejectForm.hidden = false;
      reason.focus();
    } }, '拒绝 (R)');
    card.append(
      h('div', { class: 'row' },
        h('div', { class: 'grow pair' },
          h('div', {}, h('span', { class: 'muted' }, '需求 · ' + d.need.owner.name), h('h3', {}, h('a', { href: '#/needs/' + d.need.id }, d.need.title))),
          h('div', {}, h('span', { class: 'muted' }, '成果 · ' + d.achievement.owner.name), h('h3', {}, h('a', { href: '#/achievements/' + d.achievement.id }, d.achievement.title)))),
        h('div', { class: 'score', title: '匹配度' }, '匹配度 ' + percent(d.score))),
      explanationView(d.explanation),
      h('div', { class: 'actions' }, accept, reject, h('a', { class: 'button secondary', href: '#/dockings/' + d.id }, '详情')),
      rejectForm, where);
    card.addEventListener('focus', () => { selected = cards.indexOf(card); cards.forEach((c) => c.classList.toggle('selected', c === card)); });
    card.addEventListener('keydown', (event) => {
      if (event.target !== card || event.ctrlKey || event.metaKey || event.altKey) return;
      const key = event.key.toLowerCase();
      if (key === 'j' || key === 'arrowdown') { event.preventDefault(); select(selected + 1); }
      else if (key === 'k' || key === 'arrowup') { event.preventDefault(); select(selected - 1); }
      else if (key === 'a') { event.preventDefault(); accept.click(); }
      else if (key === 'r') { event.preventDefault(); reject.click(); }
      else if (key === 'enter') { event.preventDefault(); go('#/dockings/' + d.id); }
    });
    cards.push(card);
    list.append(card);
  };
  page.items.forEach(addCard);
  // The next page of the queue, after the cards already shown.
  let cursor = page.next_cursor;
  const more = h('button', { type: 'button', class: 'secondary', id: 'queue-more', hidden: !cursor, onclick: async () => {
    const next = await attempt(moreError, more, () => api('GET', '/dockings/queue?limit=50&cursor=' + encodeURIComponent(cursor)));
    if (!next) return;
    next.items.forEach(addCard);
    cursor = next.next_cursor;
    more.hidden = !cursor;
  } }, '加载更多推荐');
  const moreError = h('div', {});
  if (!page.items.length) list.append(h('p', { class: 'empty' }, '没有待审的推荐。新的需求和成果发布后，系统会自动推荐。'));
  const section = h('section', {}, h('h1', {}, '待审推荐（匹配度从高到低）'),
    h('p', { class: 'keys' }, '键盘：', h('kbd', {}, 'J'), '/', h('kbd', {}, 'K'), ' 上下移动，',
      h('kbd', {}, 'A'), ' 接受，', h('kbd', {}, 'R'), ' 拒绝（选择原因），', h('kbd', {}, 'Enter'), ' 打开详情。'),
    list, h('div', { class: 'actions' }, more), moreError);
  if (cards.length) cards[0].setAttribute('data-autofocus', '');
  return section;
}

// ---- records ------------------------------------------------------------------------------

const NEED_FACTS = [['description', '需求描述'], ['targets', '技术指标'], ['tried', '已尝试的方案']];
const ACHIEVEMENT_FACTS = [['abstract', '成果简介'], ['team_lead', '团队负责人']];

function recordFacts(lib, r) {
  const rows = [['单位', r.owner.name], ['技术领域', r.labels.field],
    lib === 'needs' ? ['需求类型', r.labels.need_type] : ['成果类型', r.labels.achievement_type]];
  if (lib === 'achievements') rows.push(['技术成熟度', r.labels.trl || '—'], ['所处阶段', r.labels.stage || '—']);
  rows.push([lib === 'needs' ? '预算' : '报价', r.labels.price], ['合作方式', (r.labels.cooperation_modes || []).join('、')],
    ['地区', r.labels.region || r.region], ['关键词', (r.keywords || []).join('、')]);
  for (const [key, name] of lib === 'needs' ? NEED_FACTS : ACHIEVEMENT_FACTS) if (r[key]) rows.push([name, r[key]]);
  if (lib === 'needs') rows.push(['截止日期', r.deadline || '—']);
  rows.push(['公开范围', r.labels.visibility], ['状态', r.labels.status], ['确认于', date(r.confirmed_at)],
    ['联系人', r.contact ? [r.contact.name, r.contact.phone, r.contact.email].filter(Boolean).join(' · ') : '（引荐对接后可见）'],
    ['版本', r.version]);
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === undefined || v === null || v === '' ? '—' : v)]));
}

async function recordPage(lib, id) {
  const r = await api('GET', '/' + lib + '/' + id);
  const mine = state.me.organisation.id === r.owner.id;
  const where = h('div', {});
  const buttons = h('div', { class: 'actions' });
  if (mine || isStaff()) {
    buttons.append(h('a', { class: 'button secondary', href: '#/' + lib + '/' + id + '/edit' }, '编辑'));
    const deadline = h('input', { type: 'date', id: 'renew-deadline' });
    const renew = h('button', { type: 'button', class: 'secondary renew', onclick: async () => {
      const body = lib === 'needs' && deadline.value ? { deadline: deadline.value } : {};
      const done = await attempt(where, renew, () => api('POST', '/' + lib + '/' + id + '/renew', body));
      if (done) { toast('已续期'); render(); }
    } }, '续期');
    buttons.append(renew);
    if (lib === 'needs') buttons.append(h('label', { class: 'inline', for: 'renew-deadline' }, '新截止日期（已过截止日期的需求续期时必填）', deadline));
    for (const action of r.status === 'open' ? ['close', 'withdraw'] : r.status === 'expired' ? [] : ['reopen']) {
      const names = { close: lib === 'needs' ? '已解决，关闭' : '关闭', withdraw: '撤回', reopen: '重新发布' };
      const b = h('button', { type: 'button', class: 'secondary', onclick: async () => {
        const done = await attempt(where, b, () => api('POST', '/' + lib + '/' + id + '/' + action, {}, { ifMatch: r.version }));
        if (done) { toast(names[action] + '：完成'); render(); }
      } }, names[action]);
      buttons.append(b);
    }
  }
  const section = h('section', {}, h('p', { class: 'muted' }, lib === 'needs' ? '企业需求' : '科技成果'),
    h('h1', {}, r.title), buttons, where, h('div', { class: 'card' }, recordFacts(lib, r)));
  if (isStaff()) section.append(await matchesView(lib, r));
  section.append(await dockingsOf(lib, id));
  return section;
}

/** A manager's view of the record's matches (the other way round for achievements). */
async function matchesView(lib, r) {
  const other = lib === 'needs' ? 'achievement' : 'need';
  const box = h('div', {}, h('h2', {}, lib === 'needs' ? '可解决此需求的成果' : '可能需要此成果的企业需求'));
  let page;
  try {
    page = await api('GET', '/' + lib + '/' + r.id + '/matches?limit=10');
  } catch (e) {
    box.append(errorBox(e));
    return box;
  }
  if (!page.items.length) box.append(h('p', { class: 'empty' }, '暂无达到阈值的匹配。'));
  for (const m of page.items) {
    const counterpart = m[other] || m;
    const where = h('div', {});
    const existing = m.docking;
    const make = existing ? h('a', { class: 'button secondary', href: '#/dockings/' + existing.id }, '查看对接（' + (existing.state_label || label('docking_states', existing.state)) + '）')
      : h('button', { type: 'button', class: 'secondary', onclick: async () => {
        const body = lib === 'needs' ? { need_id: r.id, achievement_id: counterpart.id } : { need_id: counterpart.id, achievement_id: r.id };
        const d = await attempt(where, make, () => api('POST', '/dockings', body));
        if (d) go('#/dockings/' + d.id);
      } }, '创建对接');
    box.append(h('article', { class: 'card' },
      h('div', { class: 'row' }, h('h3', { class: 'grow' }, h('a', { href: '#/' + other + 's/' + counterpart.id }, counterpart.title)),
        h('span', { class: 'score' }, '匹配度 ' + percent(m.score))),
      h('p', { class: 'muted' }, (counterpart.owner && counterpart.owner.name) || ''),
      explanationView(m.explanation), h('div', { class: 'actions' }, make), where));
  }
  return box;
}

async function dockingsOf(lib, id) {
  const key = lib === 'needs' ? 'need_id' : 'achievement_id';
  const page = await api('GET', '/dockings?' + key + '=' + encodeURIComponent(id) + '&limit=50');
  return h('div', {}, h('h2', {}, '对接'), dockingTable(page.items));
}

function dockingTable(items) {
  if (!items.length) return h('p', { class: 'empty' }, '暂无对接。');
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, '需求'), h('th', {}, '成果'), h('th', {}, '状态'), h('th', { class: 'num' }, '匹配度'), h('th', {}, '更新于'))),
    h('tbody', {}, items.map((d) => h('tr', {},
      h('td', {}, h('a', { href: '#/dockings/' + d.id }, d.need.title)), h('td', {}, d.achievement.title),
      h('td', {}, h('span', { class: 'tag state' }, d.state_label)), h('td', { class: 'num' }, percent(d.score)),
      h('td', {}, date(d.updated_at)))))));
}

async function recordsPage(lib) {
  const mineOnly = !isStaff();
  const base = '/' + lib + '?limit=50' + (mineOnly ? '&org_id=' + encodeURIComponent(state.me.organisation.id) : '');
  const [current, expired] = await Promise.all([api('GET', base), api('GET', base + '&status=expired')]);
  const table = (items) => items.length ? h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, '名称'), h('th', {}, '单位'), h('th', {}, '领域'), h('th', {}, '状态'), h('th', {}, '更新于'))),
    h('tbody', {}, items.map((r) => h('tr', {}, h('td', {}, h('a', { href: '#/' + lib + '/' + r.id }, r.title)),
      h('td', {}, r.owner.name), h('td', {}, r.labels.field), h('td', {}, r.labels.status), h('td', {}, date(r.updated_at)))))))
    : h('p', { class: 'empty' }, '暂无记录。');
  const title = lib === 'needs' ? (mineOnly ? '我的需求' : '企业需求库') : (mineOnly ? '我的成果' : '高校成果库');
  const canCreate = isStaff() || library() === lib;
  return h('section', {}, h('h1', {}, title),
    canCreate ? h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/' + lib + '/new' }, lib === 'needs' ? '发布需求' : '登记成果')) : null,
    h('h2', {}, '有效'), table(current.items), current.next_cursor ? h('p', { class: 'muted' }, '仅显示最近 50 条。') : null,
    h('h2', {}, '已过期（续期后重新参与匹配）'), table(expired.items));
}

function fieldInput(name, text, input, hint) {
  input.id = 'f-' + name;
  input.name = name;
  return h('label', { for: input.id }, text, input, hint ? h('span', { class: 'muted' }, hint) : null,
    h('span', { class: 'field-error', 'data-field': name }));
}

/** The create and edit form of a need or an achievement. */
async function editPage(lib, id) {
  const r = id ? await api('GET', '/' + lib + '/' + id) : null;
  const v = (key, fallback = '') => (r && r[key] !== null && r[key] !== undefined ? r[key] : fallback);
  const text = (key, attrs = {}) => h('input', { value: v(key), ...attrs });
  const area = (key) => { const t = h('textarea', {}); t.value = v(key); return t; };
  const select = (key, list, blank) => h('select', {}, options(list, v(key), blank));
  const inputs = {};
  const fields = [];
  const add = (key, name, input, hint) => { inputs[key] = input; fields.push(fieldInput(key, name, input, hint)); };
  add('title', lib === 'needs' ? '需求名称' : '成果名称', text('title', { required: true, maxlength: 200, 'data-autofocus': true }));
  if (lib === 'needs') {
    add('description', '需求描述', area('description'));
    add('targets', '技术指标', area('targets'));
    add('need_type', '需求类型', select('need_type', 'need_types', '请选择'));
    add('budget_min', '预算下限（万元）', text('budget_min', { type: 'number', min: 0, step: '0.01' }));
    add('budget_max', '预算上限（万元）', text('budget_max', { type: 'number', min: 0, step: '0.01' }), '都不填为面议');
    add('deadline', '截止日期', text('deadline', { type: 'date' }));
  } else {
    add('abstract', '成果简介', area('abstract'));
    add('achievement_type', '成果类型', select('achievement_type', 'achievement_types', '请选择'));
    add('trl', '技术成熟度（TRL）', h('select', {}, h('option', { value: '' }, '未填'),
      (state.vocab.trl || []).map((t) => h('option', { value: t.level, selected: v('trl') === t.level }, t.level + ' 级 · ' + t.label))));
    add('ip_form', '知识产权形式', select('ip_form', 'ip_forms', '请选择'));
    add('asking_price', '报价（万元）', text('asking_price', { type: 'number', min: 0, step: '0.01' }), '不填为面议');
    add('team_lead', '团队负责人', text('team_lead'));
  }
  add('field', '技术领域', select('field', 'fields', '请选择'));
  add('keywords', '关键词', text('keywords', { value: (v('keywords', []) || []).join('，') }), '用逗号分隔');
  add('region', '地区代码（6 位）', text('region', { inputmode: 'numeric', pattern: '[0-9]{6}' }));
  add('visibility', '公开范围', select('visibility', 'visibilities'));
  const modes = h('fieldset', { id: 'f-cooperation_modes' }, h('legend', {}, '合作方式'),
    (state.vocab.cooperation_modes || []).map((m) => h('label', { class: 'inline' },
      h('input', { type: 'checkbox', value: m.code, checked: (v('cooperation_modes', []) || []).includes(m.code) }), m.label)),
    h('span', { class: 'field-error', 'data-field': 'cooperation_modes' }));
  const contact = r && r.contact ? r.contact : {};
  const contactName = h('input', { id: 'f-contact-name', value: contact.name || '' });
  const contactPhone = h('input', { id: 'f-contact-phone', value: contact.phone || '', inputmode: 'tel' });
  const contactEmail = h('input', { id: 'f-contact-email', value: contact.email || '', type: 'email' });
  const where = h('div', {});
  const submit = h('button', { type: 'submit' }, r ? '保存修改' : (lib === 'needs' ? '发布需求' : '登记成果'));
  const form = h('form', { class: 'stack', novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const body = {};
    for (const [key, input] of Object.entries(inputs)) {
      let value = input.value.trim();
      if (key === 'keywords') value = value ? value.split(/[,，、;；\s]+/).filter(Boolean) : [];
      else if (['budget_min', 'budget_max', 'asking_price'].includes(key)) value = value === '' ? null : Number(value);
      else if (key === 'trl') value = value === '' ? null : Number(value);
      else if (value === '' && ['deadline', 'need_type', 'achievement_type', 'ip_form', 'field'].includes(key)) value = undefined;
      if (value !== undefined) body[key] = value;
    }
    body.cooperation_modes = [...modes.querySelectorAll('input:checked')].map((c) => c.value);
    const c = { name: contactName.value.trim(), phone: contactPhone.value.trim(), email: contactEmail.value.trim() };
    if (c.name || c.phone || c.email) body.contact = Object.fromEntries(Object.entries(c).filter(([, x]) => x));
    if (r) {
      for (const key of Object.keys(body)) if (JSON.stringify(body[key]) === JSON.stringify(r[key])) delete body[key];
    }
    form.querySelectorAll('.field-error').forEach((e) => { e.textContent = ''; });
    const saved = await attempt(where, submit, () => r
      ? api('PATCH', '/' + lib + '/' + id, body, { ifMatch: r.version })
      : api('POST', '/' + lib, body));
    if (saved) { toast(r ? '已保存' : '已发布'); go('#/' + lib + '/' + saved.id); return; }
    // Each invalid field's message beside the field as well.
    const fields = (where.failure && where.failure.details && where.failure.details.fields) || [];
    for (const f of fields) {
      const slot = form.querySelector('.field-error[data-field="' + String(f.field).split(/[.[]/)[0] + '"]');
      if (slot) slot.textContent = f.message;
    }
  } }, fields, modes,
  h('fieldset', {}, h('legend', {}, '联系人（引荐对接后对方可见）'),
    h('div', { class: 'two' }, h('label', { for: 'f-contact-name' }, '姓名', contactName), h('label', { for: 'f-contact-phone' }, '电话', contactPhone)),
    h('label', { for: 'f-contact-email' }, '电子邮箱', contactEmail)),
  where, h('div', { class: 'actions' }, submit, h('a', { class: 'button secondary', href: r ? '#/' + lib + '/' + id : '#/records/' + lib }, '取消')));
  return h('section', {}, h('h1', {}, r ? '编辑：' + r.title : (lib === 'needs' ? '发布技术需求' : '登记科技成果')), form);
}

// ---- dockings -----------------------------------------------------------------------------

async function boardPage() {
  const page = await api('GET', '/dockings?limit=100' + (isStaff() ? '&state=accepted,introduced,negotiating,signed,failed,withdrawn' : ''));
  const states = (state.vocab.docking_states || []).filter((st) => page.items.some((d) => d.state === st.code) || ['accepted', 'introduced', 'negotiating', 'signed'].includes(st.code));
  const board = h('div', { class: 'board' }, states.map((st) => {
    const items = page.items.filter((d) => d.state === st.code);
    return h('section', { class: 'column', 'aria-label': st.label }, h('h2', {}, st.label + '（' + items.length + '）'),
      items.length ? items.map((d) => h('article', { class: 'card' },
        h('a', { href: '#/dockings/' + d.id }, d.need.title), h('p', { class: 'muted' }, '↔ ' + d.achievement.title),
        d.score !== null ? h('span', { class: 'tag' }, '匹配度 ' + percent(d.score)) : null))
        : h('p', { class: 'empty' }, '无'));
  }));
  return h('section', {}, h('h1', {}, isStaff() ? '对接看板' : '对接与引荐'),
    isStaff() ? null : h('p', { class: 'muted' }, '技术经理人接受推荐后，对接会出现在这里；引荐后可以看到对方的联系方式。'),
    page.items.length ? board : h('p', { class: 'empty' }, '暂无对接。'));
}

function contractForm(d, where, done) {
  const type = h('select', { id: 'c-type', required: true }, options('contract_types', null, '请选择'));
  const amount = h('input', { id: 'c-amount', inputmode: 'decimal', placeholder: '例如 350.25', required: true });
  const signed = h('input', { id: 'c-signed', type: 'date', value: marketToday(), required: true });
  const registration = h('input', { id: 'c-registration', placeholder: '技术合同登记号（可选）' });
  const submit = h('button', { type: 'submit' }, '确认签约');
  return h('form', { class: 'stack card', id: 'contract', onsubmit: async (event) => {
    event.preventDefault();
    const contract = { contract_type: type.value || null, amount: amount.value.trim(), signed_on: signed.value };
    if (registration.value.trim()) contract.registration_number = registration.value.trim();
    const result = await attempt(where, submit, () => api('POST', '/dockings/' + d.id + '/sign', { contract, version: d.version }));
    if (result) done(result);
  } }, h('h3', {}, '登记技术合同（签约后进入落地转化库）'),
  h('div', { class: 'two' }, h('label', { for: 'c-type' }, '合同类型', type), h('label', { for: 'c-amount' }, '合同金额（万元）', amount)),
  h('div', { class: 'two' }, h('label', { for: 'c-signed' }, '签约日期', signed), h('label', { for: 'c-registration' }, '登记号', registration)),
  h('div', { class: 'actions' }, submit));
}

const EVENT_KINDS = { created: '创建', transition: '状态变更', note: '备注', assign: '指派经理人', interest: '表达意向', rescored: '重新评分' };

function eventLabel(e) {
  if (e.kind === 'transition' && e.to_state) {
    return (e.from_state ? label('docking_states', e.from_state) + ' → ' : '') + label('docking_states', e.to_state);
  }
  if (e.kind === 'created' && e.to_state) return '创建：' + label('docking_states', e.to_state);
  return EVENT_KINDS[e.kind] || e.kind;
}

function sideView(title, side) {
  return h('div', { class: 'card' }, h('span', { class: 'muted' }, title + ' · ' + ((side.owner && side.owner.name) || '')),
    h('h3', {}, h('a', { href: '#/' + (title === '需求' ? 'needs' : 'achievements') + '/' + side.id }, side.title)),
    h('p', {}, '联系人：' + (side.contact ? [side.contact.name, side.contact.phone, side.contact.email].filter(Boolean).join(' · ') : '（引荐对接后可见）')));
}

async function dockingPage(id) {
  const d = await api('GET', '/dockings/' + id);
  const where = h('div', {});
  const panel = h('div', {});
  const refresh = (message) => { toast(message); render(); };
  const buttons = h('div', { class: 'actions' });
  for (const action of d.allowed_actions) {
    const b = h('button', { type: 'button', class: ['reject', 'fail', 'withdraw'].includes(action) ? 'danger' : '', 'data-action': action, onclick: async () => {
      if (action === 'sign') {
        panel.replaceChildren(contractForm(d, where, async () => {
          const transfers = await api('GET', '/transfers?docking_id=' + d.id);
          toast('已签约，合同进入落地转化库');
          go(transfers.items.length ? '#/transfers/' + transfers.items[0].id : '#/dockings/' + d.id);
        }));
        panel.querySelector('select').focus();
        return;
      }
      if (action === 'reject' || action === 'fail') {
        const reason = h('select', { id: 'reason', required: true }, options('reason_codes', null, '选择原因…'));
        const note = h('input', { id: 'reason-note', placeholder: '说明（原因为“其他”时必填）' });
        const ok = h('button', { type: 'submit', class: 'danger' }, '确认' + actionLabel(action));
        panel.replaceChildren(h('form', { class: 'stack card', onsubmit: async (event) => {
          event.preventDefault();
          const body = { reason: reason.value || null, version: d.version };
          if (note.value.trim()) body.note = note.value.trim();
          if (await attempt(where, ok, () => api('POST', '/dockings/' + d.id + '/' + action, body))) refresh('已' + actionLabel(action));
        } }, h('label', { for: 'reason' }, '原因', reason), h('label', { for: 'reason-note' }, '说明', note), h('div', { class: 'actions' }, ok)));
        reason.focus();
        return;
      }
      if (await attempt(where, b, () => api('POST', '/dockings/' + d.id + '/' + action, action === 'interest' ? {} : { version: d.version }))) {
        refresh('已' + actionLabel(action));
      }
    } }, actionLabel(action));
    buttons.append(b);
  }
  const history = h('ol', { class: 'history', id: 'history' }, (d.events || []).map((e) => h('li', {},
    h('strong', {}, eventLabel(e)), ' ',
    h('span', { class: 'muted' }, date(e.at) + ' · ' + (e.actor_role === 'matcher' ? '匹配引擎' : label('roles', e.actor_role))),
    e.reason ? h('div', {}, '原因：' + label('reason_codes', e.reason)) : null,
    e.note ? h('div', {}, e.note) : null)));
  let noteForm = null;
  if (isStaff()) {
    const note = h('textarea', { id: 'docking-note', 'aria-label': '跟进备注' });
    const save = h('button', { type: 'submit', class: 'secondary' }, '添加备注');
    noteForm = h('form', { class: 'stack', onsubmit: async (event) => {
      event.preventDefault();
      if (await attempt(where, save, () => api('POST', '/dockings/' + d.id + '/notes', { note: note.value }))) refresh('备注已记录');
    } }, h('label', { for: 'docking-note' }, '跟进备注', note), h('div', { class: 'actions' }, save));
  }
  const transfer = d.state === 'signed' ? await api('GET', '/transfers?docking_id=' + d.id) : null;
  return h('section', {}, h('p', { class: 'muted' }, '项目对接'),
    h('h1', {}, d.need.title + ' ↔ ' + d.achievement.title),
    h('div', { class: 'row' }, h('span', { class: 'tag state', id: 'docking-state' }, d.state_label),
      d.score !== null ? h('span', { class: 'score' }, '匹配度 ' + percent(d.score)) : null,
      transfer && transfer.items.length ? h('a', { href: '#/transfers/' + transfer.items[0].id }, '查看合同与里程碑') : null),
    h('div', { class: 'pair' }, sideView('需求', d.need), sideView('成果', d.achievement)),
    d.explanation ? h('div', { class: 'card' }, h('h2', {}, '推荐理由'), h('p', {}, d.explanation.summary || ''), explanationView(d.explanation)) : null,
    buttons, where, panel,
    h('h2', {}, '对接过程'), history, noteForm);
}

// ---- transfers ----------------------------------------------------------------------------

function transferTitle(t) {
  return (t.need.title || '（不公开的需求）') + ' ↔ ' + (t.achievement.title || '（不公开的成果）');
}

async function transfersPage() {
  const page = await api('GET', '/transfers?limit=100');
  return h('section', {}, h('h1', {}, '落地转化库'), page.items.length ? h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, '项目'), h('th', {}, '合同类型'), h('th', { class: 'num' }, '金额（万元）'), h('th', {}, '签约日期'), h('th', {}, '落地'))),
    h('tbody', {}, page.items.map((t) => h('tr', {}, h('td', {}, h('a', { href: '#/transfers/' + t.id }, transferTitle(t))),
      h('td', {}, t.contract_type_label), h('td', { class: 'num' }, t.amount), h('td', {}, t.signed_on), h('td', {}, t.landed_on || '—'))))))
    : h('p', { class: 'empty' }, '暂无签约项目。'));
}

async function transferPage(id) {
  const t = await api('GET', '/transfers/' + id);
  const where = h('div', {});
  const milestones = t.milestones || [];
  const facts = [['合同类型', t.contract_type_label], ['金额（万元）', t.amount], ['签约日期', t.signed_on],
    ['登记号', t.registration_number || '—'], ['落地日期', t.landed_on || '—'], ['版本', t.version]];
  let form = null;
  if (isStaff()) {
    const kind = h('select', { id: 'm-kind' }, options('milestone_kinds'));
    const when = h('input', { id: 'm-date', type: 'date', value: marketToday() });
    const note = h('input', { id: 'm-note', placeholder: '例如：中试线连续运行72小时' });
    const evidence = h('input', { id: 'm-evidence', placeholder: '证明材料编号，用逗号分隔' });
    const submit = h('button', { type: 'submit' }, '记录里程碑');
    form = h('form', { class: 'stack card', id: 'milestone', onsubmit: async (event) => {
      event.preventDefault();
      const next = milestones.map((m) => ({ kind: m.kind, date: m.date, note: m.note || '', evidence: m.evidence || [] }));
      next.push({ kind: kind.value, date: when.value, note: note.value.trim(), evidence: evidence.value.split(/[,，、]+/).map((x) => x.trim()).filter(Boolean) });
      if (await attempt(where, submit, () => api('PATCH', '/transfers/' + id, { milestones: next }, { ifMatch: t.version }))) {
        toast('里程碑已记录');
        render();
      }
    } }, h('h2', {}, '记录里程碑'), h('div', { class: 'two' }, h('label', { for: 'm-kind' }, '里程碑', kind), h('label', { for: 'm-date' }, '日期', when)),
    h('label', { for: 'm-note' }, '说明', note), h('label', { for: 'm-evidence' }, '证明材料', evidence), where, h('div', { class: 'actions' }, submit));
  }
  return h('section', {}, h('p', { class: 'muted' }, '落地转化'), h('h1', {}, transferTitle(t)),
    t.docking_id ? h('p', {}, h('a', { href: '#/dockings/' + t.docking_id }, '返回对接')) : null,
    h('div', { class: 'card' }, h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === null || v === undefined ? '—' : v)]))),
    h('h2', {}, '里程碑'), milestones.length ? h('ol', { class: 'history', id: 'milestones' }, milestones.map((m) => h('li', {},
      h('strong', {}, m.kind_label || label('milestone_kinds', m.kind)), ' ', h('span', { class: 'muted' }, m.date), m.note ? h('div', {}, m.note) : null,
      (m.evidence || []).length ? h('div', { class: 'muted' }, '材料：' + m.evidence.join('、')) : null)))
      : h('p', { class: 'empty' }, '尚未记录里程碑。'), form);
}

// ---- statistics ---------------------------------------------------------------------------

/** A horizontal bar chart with each value written beside its bar; the numbers are in a table too. */
function barChart(title, rows, unit) {
  const width = 480;
  const rowHeight = 28;
  const labelWidth = 116;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${rows.length * rowHeight + 10}`, role: 'img', 'aria-label': title });
  rows.forEach((r, i) => {
    const y = i * rowHeight + 5;
    const w = Math.max(1, ((width - labelWidth - 150) * r.value) / max);
    svg.append(s('text', { x: labelWidth - 6, y: y + 16, 'text-anchor': 'end' }, r.label.length > 8 ? r.label.slice(0, 8) + '…' : r.label),
      s('rect', { class: 'bar' + (i % 2 ? ' alt' : ''), x: labelWidth, y: y + 4, width: w, height: rowHeight - 10 }),
      s('text', { x: labelWidth + w + 6, y: y + 16 }, r.text || String(r.value)));
  });
  const table = h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, '项目'), h('th', { class: 'num' }, unit))),
    h('tbody', {}, rows.map((r) => h('tr', {}, h('td', {}, r.label), h('td', { class: 'num' }, r.text || String(r.value))))));
  return h('figure', { class: 'card' }, h('figcaption', {}, h('h2', {}, title)), rows.length ? [svg, table] : h('p', { class: 'empty' }, '暂无数据。'));
}

function monthsBack(count) {
  const today = marketToday();
  let year = Number(today.slice(0, 4));
  let month = Number(today.slice(5, 7));
  const out = [];
  for (let i = 0; i < count; i++) {
    const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
    const m = String(month).padStart(2, '0');
    out.unshift({ key: `${year}-${m}`, from: `${year}-${m}-01`, to: `${year}-${m}-${last}` });
    month -= 1;
    if (month === 0) { month = 12; year -= 1; }
  }
  return out;
}

async function statsPage() {
  const months = monthsBack(6);
  const [funnel, contracts, counts, ...monthly] = await Promise.all([
    api('GET', '/stats/funnel'), api('GET', '/stats/contracts'), api('GET', '/stats/counts?by=field'),
    ...months.map((m) => api('GET', '/stats/contracts?from=' + m.from + '&to=' + m.to))]);
  const stages = (funnel.stages || funnel).map((st) => ({ label: st.label, value: st.count,
    text: st.count + (st.conversion_rate !== null && st.conversion_rate !== undefined ? '（转化 ' + Math.round(st.conversion_rate * 100) + '%）' : '') }));
  const byMonth = months.map((m, i) => ({ label: m.key, value: Number(monthly[i].total), text: monthly[i].total + ' 万元 · ' + monthly[i].contracts + ' 项' }));
  const byField = (contracts.by_field || []).map((r) => ({ label: r.label, value: Number(r.amount), text: r.amount + ' 万元 · ' + r.contracts + ' 项' }));
  const [needs, achievementsByField] = ['needs', 'achievements'].map((lib) => (counts.libraries || []).find((l) => l.library === lib) || { groups: [] });
  const countRows = needs.groups.map((g) => {
    const other = achievementsByField.groups.find((a) => a.key === g.key);
    const offered = other ? other.count : 0;
    return { label: g.label, value: g.count + offered, text: `需求 ${g.count} · 成果 ${offered}` };
  });
  return h('section', {}, h('h1', {}, '统计'),
    h('p', {}, '合同总额 ', h('strong', { id: 'total-amount' }, contracts.total + ' 万元'), '，共 ', h('strong', {}, String(contracts.contracts)), ' 项。'),
    h('div', { class: 'charts' }, barChart('对接漏斗', stages, '数量'), barChart('近六个月合同金额', byMonth, '金额'),
      barChart('按技术领域的合同金额', byField, '金额'), barChart('各技术领域的需求与成果', countRows, '数量')));
}

// ---- import -------------------------------------------------------------------------------

function importReport(report) {
  const errors = report.errors || [];
  return h('div', { class: 'card', id: 'import-report' },
    h('p', {}, `共 ${report.rows} 行：可新建 ${report.created}，有误 ${report.invalid}` +
      (report.existing ? `，已导入过 ${report.existing}` : '') + (report.renewed ? `，续期 ${report.renewed}` : '') +
      (report.written ? '。已写入。' : '。尚未写入任何数据。')),
    errors.length ? h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', { class: 'num' }, '行'), h('th', {}, '列'), h('th', {}, '问题'))),
      h('tbody', {}, errors.map((e) => h('tr', {}, h('td', { class: 'num' }, e.row), h('td', {}, e.column || ''), h('td', {}, e.message)))))) : null,
    (report.duplicates || []).length ? h('p', { class: 'miss' }, '可能重复：' + report.duplicates.map((d) => d.title || d.existing_title || '').join('、')) : null);
}

function importPage() {
  const lib = h('select', { id: 'i-library' }, (isStaff() || library() === 'needs') ? h('option', { value: 'needs' }, '企业需求') : null,
    (isStaff() || library() === 'achievements') ? h('option', { value: 'achievements' }, '科技成果') : null);
  const file = h('input', { id: 'i-file', type: 'file', accept: '.xlsx,.csv,.jsonl', required: true });
  const skip = h('input', { id: 'i-skip', type: 'checkbox' });
  const where = h('div', {});
  const report = h('div', {});
  const run = async (dryRun, button) => {
    const chosen = file.files && file.files[0];
    if (!chosen) { where.replaceChildren(errorBox({ message: '请先选择要导入的文件（.xlsx、.csv 或 .jsonl）。' })); return; }
    const query = `/imports?library=${lib.value}&filename=${encodeURIComponent(chosen.name)}` +
      (dryRun ? '&dry_run=true' : '') + (skip.checked ? '&on_error=skip' : '');
    const result = await attempt(where, button, () => api('POST', query, undefined, { raw: chosen, contentType: chosen.type || 'application/octet-stream' }));
    if (result) {
      report.replaceChildren(importReport(result));
      write.hidden = !dryRun || result.invalid > 0 && !skip.checked;
      if (!dryRun) toast('导入完成');
    } else {
      const failed = where.failure && where.failure.details;
      // An import refused for invalid rows carries its report: show each row's problems.
      if (failed && Array.isArray(failed.errors)) report.replaceChildren(importReport(failed));
    }
  };
  const check = h('button', { type: 'button', id: 'i-check', onclick: () => run(true, check) }, '检查（不写入）');
  const write = h('button', { type: 'button', id: 'i-write', class: 'secondary', hidden: true, onclick: () => run(false, write) }, '确认导入');
  return h('section', {}, h('h1', {}, '批量导入'),
    h('p', {}, '先检查：列出每一行的问题，不写入任何数据；确认无误后再导入。模板：',
      h('a', { href: '/api/v1/imports/templates/needs.xlsx' }, '需求模板'), '、', h('a', { href: '/api/v1/imports/templates/achievements.xlsx' }, '成果模板'), '。'),
    h('form', { class: 'stack card', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'i-library' }, '导入到', lib), h('label', { for: 'i-file' }, '文件', file),
      h('label', { class: 'inline', for: 'i-skip' }, skip, '跳过有误的行，只导入正确的行'),
      h('div', { class: 'actions' }, check, write)),
    where, report);
}

// ---- notifications ------------------------------------------------------------------------

async function notificationsPage() {
  const page = await api('GET', '/notifications?limit=50');
  const where = h('div', {});
  const all = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    if (await attempt(where, all, () => api('POST', '/notifications/read-all', {}))) { toast('已全部标为已读'); render(); }
  } }, '全部标为已读');
  return h('section', {}, h('h1', {}, '通知'), h('div', { class: 'actions' }, all), where,
    page.items.length ? page.items.map((n) => h('article', { class: 'card' + (n.read ? '' : ' unread') },
      h('h3', {}, n.headline || n.kind_label || n.kind), h('p', { class: 'muted' }, date(n.at)),
      (n.lines || []).map((line) => h('p', {}, line)),
      n.path ? h('a', { href: consoleLink(n.path) }, '查看') : null))
      : h('p', { class: 'empty' }, '暂无通知。'));
}

/** The console's page for an API path a notification points to. */
function consoleLink(path) {
  const m = /\/(needs|achievements|dockings|transfers)\/([\w-]+)/.exec(path);
  return m ? '#/' + m[1] + '/' + m[2] : '#/';
}

// ---- start --------------------------------------------------------------------------------

window.addEventListener('hashchange', render);
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('skip').addEventListener('click', () => document.getElementById('main').focus());
  render();
});
