// lockfree-lab serve — the page.
//
// Vanilla JS (ES2020), no library, no build step, no network but this local server. Every number,
// verdict, trace and plot on the page is what the server returned: the page only lays it out.
// Routes, API shapes and element ids follow docs in /notes/serve-api.md (the browser tests use
// them): #/ · #/demo/NAME · #/step/NAME · #/scheduler/NAME · #/matrix · #/bench.
'use strict';

// ---------------------------------------------------------------------------------------------
// Small helpers

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// h('div', {id: 'x', class: 'y', onclick: f}, 'text', child…): an element; null/false children skipped.
function h(tag, attrs, ...children) {
  const svgTags = ['svg', 'path', 'defs', 'marker'];
  const el = svgTags.includes(tag)
    ? document.createElementNS('http://www.w3.org/2000/svg', tag)
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'html') el.innerHTML = v;
    else if (['value', 'checked', 'disabled', 'hidden', 'selected'].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Replaces el's children, skipping null/undefined/false (replaceChildren would print "null").
function put(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function seconds(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return ms < 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

// One API call: {status, ok, data}. A server that does not answer is status 0 with an error line.
async function api(method, path, body) {
  const opts = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    return { status: 0, ok: false, data: { error: 'the lab server did not answer: is `lockfree-lab serve` still running?' } };
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = { error: text.slice(0, 300) || `${res.status} ${res.statusText}` };
  }
  if (!res.ok && (!data || typeof data.error !== 'string')) {
    data = { ...(data || {}), error: `${res.status} ${res.statusText}` };
  }
  return { status: res.status, ok: res.ok, data };
}

// An error box: hidden until show(text); `busyJob` adds a button that cancels that job.
function errorBox(id) {
  const box = h('div', { id, class: 'error', role: 'alert', hidden: true });
  box.show = (text, busyJob) => {
    const said = String(text);
    const label = busyJob !== undefined ? 'Busy: ' : /^error\b/i.test(said) ? null : 'Error: ';
    put(box, label ? h('strong', {}, label) : null, said);
    box.classList.toggle('busy', busyJob !== undefined);
    if (busyJob !== undefined && busyJob !== null) {
      box.append(' ', h('button', { type: 'button', class: 'small', onclick: () => cancelJob(busyJob) }, `cancel job ${busyJob}`));
    }
    box.hidden = false;
  };
  box.clear = () => {
    box.hidden = true;
    put(box);
  };
  return box;
}

// ---------------------------------------------------------------------------------------------
// State and the catalogue

const state = {
  catalogue: null, // GET /api/demos
  demos: new Map(), // name -> DEMO
  job: null, // {id, es, what}: the job this page is watching
  leave: [], // clean-ups of the current page (listeners, streams)
  lastMatrix: null, // the last matrix result, kept across page changes
  lastRun: new Map(), // demo -> its last run result (shown again on coming back)
  lastCheck: new Map(), // demo -> its last check result
};

// The seed site's one-line subtitle of each group.
const GROUP_SUBTITLES = {
  'The NIC datapath': 'Drive a packet between the host and the wire.',
  'Concurrency & the memory model': 'Make lock-free code break, then fix it.',
  'CPU & microarchitecture': 'The hardware reality your code runs on.',
  'Networking, TCP & AI fabric': 'From the handshake to GPU collectives.',
};

// The goal of each "you are the scheduler" round.
const SCHED_GOALS = {
  aba: "Make T1's stale CAS succeed: let T1 read the head (A) and its next (B), stall it, let T2 pop A, pop B and push into the recycled A, then let T1 run its CAS.",
  'lost-update': "Make an increment vanish: let both threads read the counter before either writes its increment back.",
  'cas-retry': "Make T1 act on a stale value: let T2 change the shared word between T1's read and T1's write.",
  mpmc: 'Make a value go missing or come out twice: let the other thread run between one thread claiming a slot (moving the shared index) and that slot being written or read.',
  'message-passing': 'Try to make the reader see the flag but miss the data. Each step here runs whole and in order, so watch what the verdict says: this bug needs weak memory, which the step page shows.',
};

async function loadCatalogue() {
  const r = await api('GET', '/api/demos');
  if (!r.ok) {
    put($('#nav'), h('p', { class: 'error' }, `Could not load the demos: ${r.data.error}`));
    put($('#main'), h('p', { class: 'error' }, r.data.error));
    return false;
  }
  state.catalogue = r.data;
  for (const g of r.data.groups || []) for (const d of g.demos || []) state.demos.set(d.name, d);
  renderNav();
  renderMachine(r.data.machine);
  return true;
}

function renderMachine(m) {
  if (!m) return;
  const bits = [];
  if (m.cpu) bits.push(m.cpu);
  if (m.cores !== undefined) bits.push(`${m.cores} core${m.cores === 1 ? '' : 's'}`);
  bits.push(m.root ? 'running as root (every demo can run)' : 'not root (root-only demos will say so)');
  $('#machine').textContent = `This machine: ${bits.join(' · ')}`;
}

function renderNav() {
  const nav = $('#nav');
  const top = $('.nav-top', nav);
  const parts = [top];
  for (const g of state.catalogue.groups || []) {
    parts.push(h('h3', { class: 'group' }, g.title));
    const items = (g.demos || []).map((d) =>
      h('li', {}, h('a', { class: 'demo-link', href: `#/demo/${d.name}`, dataset: { demo: d.name }, title: d.lesson }, d.name)));
    for (const t of g.not_built || []) {
      items.push(h('li', {}, h('span', { class: 'not-built', title: 'this seed demo has no lab demo yet' }, `${t} — not built yet`)));
    }
    parts.push(h('ul', { class: 'demo-list' }, items));
  }
  put(nav, ...parts);
}

function markActiveNav(page, name) {
  for (const a of $$('#nav a')) {
    const active = (a.dataset.demo && a.dataset.demo === name && ['demo', 'step', 'scheduler'].includes(page)) ||
      (a.dataset.route && a.dataset.route === (page || 'home'));
    a.classList.toggle('active', !!active);
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// What a learner can do with a demo, as badges.
function abilities(d) {
  const can = [];
  if (d.run) can.push(['run', 'run it on real cores']);
  if (d.check) can.push(['check', 'loom and shuttle explore it']);
  if (d.step) can.push(['step', 'step a counterexample']);
  if (d.schedulable) can.push(['scheduler', 'you are the scheduler']);
  if (d.quick) can.push(['live', 'quick: re-runs as a slider moves']);
  if (d.available === false) can.push(['not in this build', 'needs a cargo feature this build lacks']);
  return h('ul', { class: 'badges', 'aria-label': 'what you can do' },
    can.map(([t, title]) => h('li', { class: `badge badge-${t.split(' ')[0]}`, title }, t)));
}

// ---------------------------------------------------------------------------------------------
// Router

function leavePage() {
  for (const f of state.leave.splice(0)) {
    try {
      f();
    } catch (e) {
      /* a clean-up must not stop the next page */
    }
  }
}

function route() {
  leavePage();
  const raw = (location.hash || '#/').replace(/^#\/?/, '');
  const [page, ...rest] = raw.split('/');
  const name = decodeURIComponent(rest.join('/'));
  markActiveNav(page, name);
  const main = $('#main');
  put(main);
  if (!state.catalogue) return;
  switch (page) {
    case '':
    case 'home':
      renderHome(main);
      break;
    case 'demo':
      renderDemo(main, name);
      break;
    case 'step':
      renderStep(main, name);
      break;
    case 'scheduler':
      renderScheduler(main, name);
      break;
    case 'matrix':
      renderMatrix(main);
      break;
    case 'bench':
      renderBench(main);
      break;
    default:
      main.append(notFound(`There is no page "${raw}".`));
  }
  const title = { demo: name, step: `step ${name}`, scheduler: `scheduler ${name}`, matrix: 'matrix', bench: 'bench report' }[page];
  document.title = title ? `${title} — lockfree-lab` : 'lockfree-lab — demos you drive';
  if (page) main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function notFound(text) {
  return h('section', { class: 'notfound' }, h('h2', {}, 'Not here'), h('p', {}, text, ' '), h('p', {}, h('a', { href: '#/' }, 'Back to every demo')));
}

function demoOr404(main, name) {
  const d = state.demos.get(name);
  if (!d) main.append(notFound(`No demo is named "${name}". The navigation lists every built demo.`));
  return d;
}

// ---------------------------------------------------------------------------------------------
// Home

function renderHome(main) {
  const groups = state.catalogue.groups || [];
  const built = groups.reduce((n, g) => n + (g.demos || []).length, 0);
  const notBuilt = groups.reduce((n, g) => n + (g.not_built || []).length, 0);
  const sec = h('section', { id: 'home' },
    h('div', { class: 'hero' },
      h('p', { class: 'kicker' }, `${built} demos you drive`, notBuilt ? ` · ${notBuilt} seed demo${notBuilt === 1 ? '' : 's'} not built yet` : ''),
      h('h1', {}, 'Every concept, hands-on'),
      h('p', { class: 'lede' }, 'Not loops to watch — demos you drive. Toggle, step, drag, and break each idea across the whole stack: the NIC datapath, the C memory model, CPU microarchitecture, and networking / AI-fabric concepts.'),
      h('p', { class: 'lede2' }, 'Nothing here is animated from made-up numbers. ',
        h('strong', {}, 'Run'), ' is the real code on this machine\'s cores; ',
        h('strong', {}, 'check'), ' is loom or shuttle exploring the real structure; ',
        h('strong', {}, 'step'), ' walks a trace the checker found; ',
        h('strong', {}, 'scheduler'), ' lets you pick the interleaving yourself. ',
        'Also: the ', h('a', { href: '#/matrix' }, 'detection matrix'), ' and the ', h('a', { href: '#/bench' }, 'bench report'), '.')));
  for (const g of groups) {
    const cards = (g.demos || []).map((d) =>
      h('a', { class: 'card', href: `#/demo/${d.name}`, dataset: { card: d.name } },
        h('span', { class: 'card-title' }, d.name),
        h('span', { class: 'card-seed' }, d.seed_demo),
        h('span', { class: 'card-lesson' }, d.lesson),
        abilities(d)));
    for (const t of g.not_built || []) {
      cards.push(h('div', { class: 'card unbuilt', 'aria-disabled': 'true' },
        h('span', { class: 'card-title' }, t), h('span', { class: 'card-lesson' }, 'not built yet: the seed has it, the lab does not make it real yet')));
    }
    sec.append(h('section', { class: 'group-block' },
      h('h2', {}, g.title),
      GROUP_SUBTITLES[g.title] ? h('p', { class: 'group-sub' }, GROUP_SUBTITLES[g.title]) : null,
      h('div', { class: 'cards' }, cards)));
  }
  main.append(sec);
}

// ---------------------------------------------------------------------------------------------
// Jobs: POST, then follow /api/jobs/ID/events

// Starts a job. `view`: {error: errorBox, progress: element, onResult(ev), onEnd()}.
async function startJob(path, body, view) {
  view.error.clear();
  const r = await api('POST', path, body);
  if (r.status === 202 && r.data && r.data.job !== undefined) {
    watchJob(r.data.job, `${path.replace('/api/', '')} ${body.demo || ''}`.trim(), view);
    return true;
  }
  if (r.status === 409) view.error.show(r.data.error, r.data.job === undefined ? null : r.data.job);
  else view.error.show(r.data.error);
  return false;
}

function watchJob(id, what, view) {
  stopWatching();
  const lines = [];
  let finished = false;
  const es = new EventSource(`/api/jobs/${id}/events`);
  state.job = { id, es, what };
  setRunning(true);
  pollStatus();
  const started = Date.now();
  const showProgress = (elapsed) => {
    if (!view.progress) return;
    view.progress.hidden = false;
    put(view.progress, 
      h('p', { class: 'progress-head' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), `job ${id} · ${what} · running ${seconds(elapsed)}`),
      lines.length ? h('pre', { class: 'lines' }, lines.slice(-12).join('\n')) : null);
  };
  showProgress(0);
  const finish = (text, cls) => {
    finished = true;
    es.close();
    if (state.job && state.job.id === id) state.job = null;
    setRunning(false);
    pollStatus();
    if (view.progress) {
      put(view.progress, h('p', { class: `progress-head ${cls || ''}` }, `job ${id} · ${what} · ${text}`),
        lines.length ? h('details', {}, h('summary', {}, `${lines.length} progress line${lines.length === 1 ? '' : 's'}`), h('pre', { class: 'lines' }, lines.join('\n'))) : null);
    }
    if (view.onEnd) view.onEnd();
  };
  const parse = (e) => {
    try {
      return JSON.parse(e.data);
    } catch (err) {
      return { error: String(e.data) };
    }
  };
  es.addEventListener('progress', (e) => {
    const p = parse(e);
    if (p.line) lines.push(p.line);
    showProgress(p.elapsed_ms !== undefined ? p.elapsed_ms : Date.now() - started);
  });
  es.addEventListener('result', (e) => {
    const r = parse(e);
    finish(`done in ${seconds(r.elapsed_ms !== undefined ? r.elapsed_ms : Date.now() - started)}`, 'ok');
    view.onResult(r);
  });
  es.addEventListener('cancelled', () => finish('cancelled', 'cancelled'));
  es.addEventListener('error', (e) => {
    if (finished) return;
    if (e.data !== undefined && e.data !== null && e.data !== '') {
      // The server's `event: error`: the child's usage error or crash.
      finish('failed', 'failed');
      view.error.show(parse(e).error || String(e.data));
    } else {
      // The connection itself: do not let EventSource reconnect and replay the job.
      finish('the event stream closed before the job ended', 'failed');
      view.error.show(`lost the event stream of job ${id}: the job may still be running (see the header)`);
    }
  });
  state.leave.push(() => {
    if (!finished) {
      finished = true;
      es.close();
      if (state.job && state.job.id === id) state.job = null;
    }
  });
}

function stopWatching() {
  if (state.job) {
    state.job.es.close();
    state.job = null;
  }
}

async function cancelJob(id) {
  const r = await api('POST', `/api/jobs/${id}/cancel`);
  pollStatus();
  return r;
}

// Run/check/matrix buttons follow whether this page watches a job.
function setRunning(running) {
  for (const b of $$('[data-starts-job]')) b.disabled = running;
  for (const b of $$('[data-cancels-job]')) b.disabled = !running;
  document.body.classList.toggle('job-running', running);
}

// The header's busy line, from GET /api/status (any job, from any tab).
let statusTimer = null;
async function pollStatus() {
  clearTimeout(statusTimer);
  const r = await api('GET', '/api/status');
  clearTimeout(statusTimer); // another poll may have finished meanwhile: keep one timer
  const el = $('#busy');
  if (r.ok && r.data && r.data.busy) {
    const b = r.data.busy;
    put(el, h('span', { class: 'spinner', 'aria-hidden': 'true' }), `busy: ${b.what} (job ${b.job}, ${seconds(b.elapsed_ms)}) `,
      h('button', { type: 'button', class: 'small', onclick: () => cancelJob(b.job) }, 'cancel'));
    el.hidden = false;
  } else {
    el.hidden = true;
  }
  statusTimer = setTimeout(pollStatus, r.ok && r.data && r.data.busy ? 1000 : 3000);
}

// ---------------------------------------------------------------------------------------------
// Demo page

function variantOptions(d) {
  if (d.variants === 'orderings') return [['', 'every ordering'], ...(d.orderings || []).map((o) => [o, o])];
  if (d.variants === 'single') return [['', 'its one case']];
  return [['', 'all: broken and fixed'], ['broken', 'broken'], ['fixed', 'fixed']];
}

function field(labelText, control, help) {
  return h('div', { class: 'field' }, h('label', { for: control.id }, labelText), control, help ? h('small', { class: 'help' }, help) : null);
}

// A Number param: a slider and a number box kept in step. The number box (name param-NAME) is what
// is sent; a linear slider is named param-NAME too, a power-of-two or log slider param-NAME-slider.
function numberControl(p, kind) {
  const id = `param-${p.name}`;
  const box = h('input', { type: 'number', id, name: id, min: kind.min, max: kind.max, step: 1, value: kind.default, inputmode: 'numeric' });
  const pow2 = !!kind.power_of_two;
  const log = !pow2 && kind.min >= 1 && kind.max / Math.max(kind.min, 1) > 1000;
  let slider;
  if (pow2) {
    const lo = Math.ceil(Math.log2(Math.max(kind.min, 1)));
    const hi = Math.floor(Math.log2(kind.max));
    slider = h('input', { type: 'range', name: `${id}-slider`, min: lo, max: hi, step: 1, value: Math.round(Math.log2(Math.max(kind.default, 1))), 'aria-label': `${p.name} (powers of two)` });
    slider.addEventListener('input', () => { box.value = String(2 ** Number(slider.value)); });
    box.addEventListener('input', () => {
      const v = Number(box.value);
      if (v > 0) slider.value = String(Math.round(Math.log2(v)));
    });
  } else if (log) {
    const toT = (v) => Math.round((1000 * Math.log(v / kind.min)) / Math.log(kind.max / kind.min));
    const fromT = (t) => Math.round(kind.min * (kind.max / kind.min) ** (t / 1000));
    slider = h('input', { type: 'range', name: `${id}-slider`, min: 0, max: 1000, step: 1, value: toT(kind.default), 'aria-label': `${p.name} (log scale)` });
    slider.addEventListener('input', () => { box.value = String(fromT(Number(slider.value))); });
    box.addEventListener('input', () => {
      const v = Number(box.value);
      if (v >= kind.min) slider.value = String(toT(Math.min(v, kind.max)));
    });
  } else {
    slider = h('input', { type: 'range', name: id, min: kind.min, max: kind.max, step: 1, value: kind.default, 'aria-label': p.name });
    slider.addEventListener('input', () => { box.value = slider.value; });
    box.addEventListener('input', () => { if (box.value !== '') slider.value = box.value; });
  }
  const range = `${kind.min}–${kind.max}${pow2 ? ', a power of two' : ''}; default ${kind.default}`;
  return { box, el: h('div', { class: 'field param' }, h('label', { for: id }, p.name), h('div', { class: 'slider-row' }, slider, box), h('small', { class: 'help' }, p.help ? `${p.help} (${range})` : range)) };
}

// Every control of the demo's form; `read()` gives the POST /api/run body.
function buildControls(d) {
  const form = h('form', { id: 'controls', class: 'controls', onsubmit: (e) => e.preventDefault() });
  const variant = h('select', { id: 'variant', name: 'variant', disabled: d.variants === 'single' },
    variantOptions(d).map(([v, t]) => h('option', { value: v }, t)));
  form.append(field(d.variants === 'orderings' ? 'ordering' : 'variant', variant,
    d.variants === 'single' ? 'one thing measured: no broken/fixed pair' : d.pair));

  const th = d.threads || {};
  const threads = th.fixed !== undefined
    ? h('input', { type: 'number', id: 'threads', name: 'threads', value: th.fixed, disabled: true })
    : h('input', { type: 'number', id: 'threads', name: 'threads', min: th.min, max: th.max, step: 1, value: th.default, inputmode: 'numeric' });
  form.append(field('threads', threads, th.fixed !== undefined ? `always ${th.fixed} (its roles)` : `${th.min}–${th.max}`));

  const it = d.iterations || {};
  const iterations = h('input', { type: 'number', id: 'iterations', name: 'iterations', min: 1, max: it.max, step: 1, value: it.default, inputmode: 'numeric' });
  form.append(field('iterations', iterations, it.max ? `per thread, 1–${Number(it.max).toLocaleString('en')}` : 'per thread'));

  const pin = h('input', { type: 'checkbox', id: 'pin', name: 'pin', checked: true });
  form.append(h('div', { class: 'field check' }, pin, h('label', { for: 'pin' }, 'pin threads to cores')));

  const reads = [];
  for (const p of d.params || []) {
    const id = `param-${p.name}`;
    const kind = p.kind;
    if (kind === 'Flag' || (kind && kind.Flag !== undefined)) {
      const box = h('input', { type: 'checkbox', id, name: id });
      form.append(h('div', { class: 'field check param' }, box, h('label', { for: id }, p.name), p.help ? h('small', { class: 'help' }, p.help) : null));
      reads.push((params) => { params[p.name] = box.checked; });
    } else if (kind && kind.Choice) {
      const sel = h('select', { id, name: id }, kind.Choice.values.map((v) => h('option', { value: v, selected: v === kind.Choice.default }, v)));
      form.append(field(p.name, sel, p.help));
      reads.push((params) => { params[p.name] = sel.value; });
    } else if (kind && kind.Number) {
      const { box, el } = numberControl(p, kind.Number);
      form.append(el);
      reads.push((params) => { if (box.value !== '') params[p.name] = box.value; });
    }
  }

  const num = (input) => {
    const v = input.value.trim();
    if (v === '') return null;
    return /^-?\d+$/.test(v) ? Number(v) : v;
  };
  form.read = () => {
    const body = { demo: d.name, variant: null, ordering: null, threads: null, iterations: null, pin: pin.checked, params: {} };
    if (d.variants === 'orderings') body.ordering = variant.value || null;
    else if (d.variants === 'broken-fixed') body.variant = variant.value || null;
    if (th.fixed === undefined) body.threads = num(threads);
    body.iterations = num(iterations);
    for (const r of reads) r(body.params);
    return body;
  };
  return form;
}

// A run this fast (ms) may re-run as a slider moves.
const QUICK_MS = 3000;

function renderDemo(main, name) {
  const d = demoOr404(main, name);
  if (!d) return;
  const error = errorBox('error');
  const progress = h('div', { id: 'progress', class: 'progress', 'aria-live': 'polite', hidden: true });
  const form = buildControls(d);
  const table = h('table', { id: 'result-table', class: 'data' });
  const notes = h('ul', { id: 'notes', class: 'notes' });
  const plot = h('div', { id: 'plot', class: 'plot' });
  const summary = h('p', { class: 'run-summary' });
  const result = h('div', { id: 'result', class: 'result', 'aria-live': 'polite' }, summary, h('div', { class: 'table-wrap' }, table), notes, plot);
  const checkResult = h('div', { id: 'check-result', class: 'check-result', 'aria-live': 'polite' });

  let pending = false;
  const run = () => {
    pending = false;
    return startJob('/api/run', form.read(), {
      error,
      progress,
      onResult: (ev) => {
        if (ev.kind === 'run') {
          state.lastRun.set(d.name, ev);
          renderRunResult(ev, { table, notes, plot, summary });
          if (ev.elapsed_ms < QUICK_MS) quickHere(true);
        }
        else error.show(`unexpected result kind "${ev.kind}"`);
      },
      onEnd: () => { if (pending) run(); },
    });
  };
  const checker = h('select', { id: 'checker', name: 'checker' },
    h('option', { value: 'loom' }, 'loom (exhaustive)'), h('option', { value: 'shuttle' }, 'shuttle (random + PCT)'), h('option', { value: 'all' }, 'all checkers'));
  const check = () => {
    const v = $('#variant', form).value || null;
    const body = { demo: d.name, variant: d.variants === 'broken-fixed' ? v : null, ordering: d.variants === 'orderings' ? v : null, checker: checker.value };
    return startJob('/api/check', body, {
      error,
      progress,
      onResult: (ev) => {
        state.lastCheck.set(d.name, ev);
        renderCheckResult(ev, checkResult, d);
      },
    });
  };

  const buttons = h('div', { class: 'buttons' },
    h('button', { type: 'button', id: 'run', class: 'primary', 'data-starts-job': d.run, disabled: !d.run || !!state.job, onclick: run, title: d.run ? 'run it on real cores' : 'this demo has no run' }, 'Run on real cores'),
    h('button', { type: 'button', id: 'cancel', 'data-cancels-job': true, disabled: !state.job, onclick: () => state.job && cancelJob(state.job.id) }, 'Cancel'),
    d.check ? h('span', { class: 'check-group' },
      h('label', { for: 'checker', class: 'inline' }, 'checker'), checker,
      h('button', { type: 'button', id: 'check', 'data-starts-job': true, disabled: !!state.job, onclick: check }, 'Check')) : h('button', { type: 'button', id: 'check', disabled: true, title: 'no model check for this demo' }, 'Check'));

  // Auto-run is offered where a run is quick: the concurrency demos, and any demo whose last run
  // on this machine took under QUICK_MS (a CPU sweep at small sizes, say).
  let quickHere = () => {};
  if (d.run) {
    const auto = h('input', { type: 'checkbox', id: 'auto-run', name: 'auto-run' });
    const autoLabel = h('label', { for: 'auto-run' }, 'auto-run when a control changes');
    quickHere = (yes) => {
      auto.disabled = !yes;
      autoLabel.title = yes ? '' : `offered once a run of this demo takes under ${QUICK_MS / 1000} s here`;
    };
    const last = state.lastRun.get(d.name);
    quickHere(d.quick || (last && last.elapsed_ms < QUICK_MS));
    let timer = null;
    const onChange = (e) => {
      if (!auto.checked || e.target === auto) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (state.job) pending = true;
        else run();
      }, 450);
    };
    form.addEventListener('input', onChange);
    form.addEventListener('change', onChange);
    state.leave.push(() => clearTimeout(timer));
    buttons.append(h('span', { class: 'auto' }, auto, autoLabel));
  }

  const links = h('p', { class: 'links' },
    d.step ? h('a', { id: 'to-step', class: 'button-link', href: `#/step/${d.name}` }, 'Step through the counterexample →') : null,
    d.schedulable ? h('a', { id: 'to-scheduler', class: 'button-link', href: `#/scheduler/${d.name}` }, 'You are the scheduler →') : null);

  main.append(h('section', { id: 'demo' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'all demos'), ` / ${d.group} / ${d.seed_demo}`),
    h('h2', { id: 'demo-title' }, d.name),
    h('p', { id: 'lesson', class: 'lesson' }, d.lesson),
    d.pair ? h('p', { class: 'pair' }, h('strong', {}, 'The pair: '), h('span', { html: inline(d.pair) })) : null,
    abilities(d),
    d.available === false ? h('p', { class: 'warn' }, 'This build lacks the cargo feature this demo needs: the server will say which.') : null,
    links,
    form,
    buttons,
    error,
    progress,
    result,
    checkResult));
  if (state.lastRun.has(d.name)) renderRunResult(state.lastRun.get(d.name), { table, notes, plot, summary });
  if (state.lastCheck.has(d.name)) renderCheckResult(state.lastCheck.get(d.name), checkResult, d);
}

function renderRunResult(ev, { table, notes, plot, summary }) {
  const out = ev.output || {};
  const rows = out.rows || [];
  const labels = [];
  for (const r of rows) for (const f of r.figures || []) if (!labels.includes(f[0])) labels.push(f[0]);
  const params = (out.params || []).map(([k, v]) => `${k} ${v}`).join(', ');
  summary.textContent = `${out.demo}: ${out.threads} thread${out.threads === 1 ? '' : 's'}, ${Number(out.iterations).toLocaleString('en')} iterations${params ? `; ${params}` : ''}`;
  put(table, 
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'case'), labels.map((l) => h('th', { scope: 'col' }, l)), h('th', { scope: 'col' }, 'parallelism'))),
    h('tbody', {}, rows.map((r) => {
      const byLabel = new Map((r.figures || []).map((f) => [f[0], f]));
      const par = r.parallel === true ? 'par-yes' : r.parallel === false ? 'par-no' : 'par-na';
      return h('tr', { dataset: { case: r.case } },
        h('th', { scope: 'row', html: inline(r.case) }),
        labels.map((l) => {
          const f = byLabel.get(l);
          return h('td', { class: 'num', title: f && f[3] ? `unit: ${f[3]}` : null }, f ? f[1] : '—');
        }),
        h('td', { class: `parallelism ${par}` }, r.parallelism || '—'));
    })));
  put(notes, ...(out.notes || []).map((n) => h('li', { html: inline(n) })));
  if (ev.svg) plot.innerHTML = ev.svg;
  else put(plot, (out.series || []).length ? h('p', { class: 'muted' }, 'The server sent no plot for these series.') : '');
}

// A readable step (check --json uses object/operation, the trace view name/op).
const stepName = (s) => s.name || s.object || '';
const stepOp = (s) => s.op || s.operation || '';
const threadLabel = (t) => (typeof t === 'number' ? `T${t}` : String(t));
// A thread as a number: the trace view says 1, check --json says "T1".
const threadNumber = (t) => (typeof t === 'number' ? t : Number(String(t).replace(/^T/i, '')));

function stepsTable(steps) {
  return h('table', { class: 'data steps' },
    h('thead', {}, h('tr', {}, ['#', 'thread', 'location', 'op', 'ordering', 'value', 'source'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, steps.map((s) => h('tr', { class: s.note ? 'stale' : null },
      h('td', { class: 'num' }, s.number), h('td', {}, threadLabel(s.thread)), h('td', { class: 'loc-name' }, stepName(s)), h('td', {}, stepOp(s)),
      h('td', {}, s.ordering), h('td', { class: 'value' }, s.value, s.note ? h('div', { class: 'stale-note' }, s.note) : null),
      h('td', { class: 'src-cell' }, h('code', { class: 'code' }, s.code || ''), h('div', { class: 'muted' }, s.location))))));
}

function renderCheckResult(ev, box, d) {
  const outs = Array.isArray(ev.output) ? ev.output : [ev.output];
  put(box, h('h3', {}, 'Model check'), ...outs.map((o) => {
    const cls = o.false_positive ? 'fp' : o.verdict === 'passed' ? 'passed' : 'found';
    return h('div', { class: `check-card ${cls}`, dataset: { checker: o.checker, case: o.case } },
      h('h4', {}, `${o.checker} · ${o.case}`),
      h('p', { class: `verdict ${cls}` }, o.verdict),
      h('dl', { class: 'facts' },
        h('dt', {}, 'executions'), h('dd', { class: 'executions' }, Number(o.executions).toLocaleString('en')),
        h('dt', {}, 'time'), h('dd', {}, `${Number(o.millis).toFixed(1)} ms`)),
      o.message ? h('p', { class: 'message' }, o.message) : null,
      o.blind_spot ? h('p', { class: 'blind' }, h('strong', {}, 'Blind spot: '), o.blind_spot) : null,
      o.note ? h('p', { class: 'note' }, o.note) : null,
      o.steps && o.steps.length ? h('details', { class: 'counterexample', open: true },
        h('summary', {}, `counterexample: ${o.steps.length} steps`, d.step ? ' — ' : '', d.step ? h('a', { href: `#/step/${d.name}` }, 'step through it with arrows') : null),
        h('div', { class: 'table-wrap' }, stepsTable(o.steps))) : null);
  }));
}

// ---------------------------------------------------------------------------------------------
// Step page: the counterexample, one step at a time, with reads-from / synchronizes-with arrows

function renderStep(main, name) {
  const d = demoOr404(main, name);
  if (!d) return;
  if (!d.check && !d.step) {
    main.append(notFound(`${name} has no model check, so there is no counterexample to step through: run it on the demo page.`));
    return;
  }
  const error = errorBox('step-error');
  const variant = h('select', { id: 'step-variant', name: 'step-variant' }, h('option', { value: 'broken' }, 'broken'), h('option', { value: 'fixed' }, 'fixed'));
  const prev = h('button', { type: 'button', id: 'step-prev', 'aria-label': 'previous step' }, '← Prev');
  const next = h('button', { type: 'button', id: 'step-next', 'aria-label': 'next step' }, 'Next →');
  const first = h('button', { type: 'button', id: 'step-first', 'aria-label': 'first step' }, '⇤');
  const last = h('button', { type: 'button', id: 'step-last', 'aria-label': 'last step: the failure' }, '⇥');
  const index = h('span', { id: 'step-index', class: 'step-index', 'aria-live': 'polite' }, '0 / 0');
  const meta = h('div', { class: 'trace-meta' });
  const svg = h('svg', { id: 'hb-arrows', 'aria-hidden': 'true' });
  const trace = h('div', { id: 'trace', class: 'trace' });
  const source = h('div', { id: 'source', class: 'source', 'aria-live': 'polite' });
  const replay = h('div', { id: 'replay', class: 'replay' });

  let view = null; // {steps, edges, cur}
  const show = (k, skipScroll) => {
    if (!view || !view.steps.length) return;
    view.cur = Math.max(1, Math.min(view.steps.length, k));
    const curNumber = view.steps[view.cur - 1].number;
    $$('.step', trace).forEach((el) => {
      const i = Number(el.dataset.index);
      el.classList.toggle('current', i === view.cur - 1);
      el.classList.toggle('future', i > view.cur - 1);
      el.setAttribute('aria-hidden', i > view.cur - 1 ? 'true' : 'false');
    });
    index.textContent = `${view.cur} / ${view.steps.length}`;
    prev.disabled = first.disabled = view.cur <= 1;
    next.disabled = last.disabled = view.cur >= view.steps.length;
    const s = view.steps[view.cur - 1];
    put(source, h('span', { class: 'muted' }, `step ${s.number} · ${threadLabel(s.thread)} · ${s.location}`), h('pre', { class: 'code' }, s.code || '(source not at hand)'),
      s.note ? h('p', { class: 'stale-note' }, s.note) : null);
    const cur = $(`.step[data-index="${view.cur - 1}"]`, trace);
    if (cur && cur.scrollIntoView && !skipScroll) cur.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    drawArrows(trace, svg, view.edges.filter((e) => e.from <= curNumber && e.to <= curNumber), curNumber);
  };

  const load = async () => {
    error.clear();
    put(trace, svg);
    put(svg);
    put(meta, h('p', { class: 'muted' }, 'asking the checker for a trace…'));
    view = null;
    index.textContent = '0 / 0';
    const q = `demo=${encodeURIComponent(d.name)}&variant=${encodeURIComponent(variant.value)}`;
    const r = await api('GET', `/api/trace?${q}`);
    if (!r.ok) {
      put(meta);
      error.show(r.data.error);
    } else {
      const t = { ...r.data, steps: (r.data.steps || []).map((s) => ({ ...s, thread: threadNumber(s.thread) })) };
      view = { steps: t.steps || [], edges: traceEdges(t), cur: 1 };
      put(meta, 
        h('p', {}, h('strong', {}, `${t.checker || 'checker'}: `), t.verdict || ''),
        t.failure ? h('p', { class: 'failure' }, h('strong', {}, 'The failure: '), t.failure) : null,
        (t.locations || []).length ? h('p', { class: 'muted' }, 'Locations: ', (t.locations || []).map((l, i) => [i ? ', ' : '', h('span', { class: 'loc-name' }, l)])) : null,
        view.steps.length ? null : h('p', { class: 'muted' }, 'No counterexample: nothing to step through for this variant.'));
      buildTrace(trace, svg, t, d.name, (k) => show(k));
      show(1, true);
    }
    loadReplay(d, variant.value, replay);
  };

  prev.addEventListener('click', () => view && show(view.cur - 1));
  next.addEventListener('click', () => view && show(view.cur + 1));
  first.addEventListener('click', () => view && show(1));
  last.addEventListener('click', () => view && show(view.steps.length));
  variant.addEventListener('change', load);
  const onKey = (e) => {
    if (e.target && ['INPUT', 'SELECT', 'TEXTAREA'].includes(e.target.tagName)) return;
    if (e.key === 'ArrowLeft' && view) {
      show(view.cur - 1);
      e.preventDefault();
    } else if (e.key === 'ArrowRight' && view) {
      show(view.cur + 1);
      e.preventDefault();
    } else if (e.key === 'Home' && view) {
      show(1);
      e.preventDefault();
    } else if (e.key === 'End' && view) {
      show(view.steps.length);
      e.preventDefault();
    }
  };
  const onResize = () => view && show(view.cur, true);
  document.addEventListener('keydown', onKey);
  window.addEventListener('resize', onResize);
  state.leave.push(() => {
    document.removeEventListener('keydown', onKey);
    window.removeEventListener('resize', onResize);
  });

  main.append(h('section', { id: 'step' },
    h('p', { class: 'crumbs' }, h('a', { href: `#/demo/${d.name}` }, d.name), ' / step'),
    h('h2', {}, `Step: ${d.name}`),
    h('p', { class: 'lesson' }, 'A failing execution the model checker found, one step per row and one column per thread. ',
      'Arrows run from the write to the read that took its value: ', h('span', { class: 'key-sw' }, 'solid'), ' = synchronizes-with (a release store read by an acquire load: happens-before), ',
      h('span', { class: 'key-rf' }, 'dashed'), ' = reads-from only. A ', h('span', { class: 'stale-key' }, 'stale'), ' read took an older value than the latest store. Keys: ← / → step, Home / End.'),
    h('div', { class: 'step-controls' }, h('label', { for: 'step-variant' }, 'variant'), variant, first, prev, index, next, last,
      d.schedulable ? h('a', { class: 'button-link', href: `#/scheduler/${d.name}` }, 'Now you be the scheduler →') : null),
    error,
    meta,
    h('div', { class: 'trace-wrap' }, trace),
    source,
    replay));
  load();
}

// The arrows of a trace: its edges, or (older servers) the steps' reads_from / synchronizes_with.
function traceEdges(t) {
  if (Array.isArray(t.edges)) return t.edges;
  const edges = [];
  for (const s of t.steps || []) {
    if (s.reads_from !== null && s.reads_from !== undefined) edges.push({ from: s.reads_from, to: s.number, kind: 'rf' });
    if (s.synchronizes_with !== null && s.synchronizes_with !== undefined) edges.push({ from: s.synchronizes_with, to: s.number, kind: 'sw' });
  }
  return edges;
}

function buildTrace(trace, svg, t, demo, select) {
  const steps = (t.steps || []).map((s) => ({ ...s, thread: threadNumber(s.thread) }));
  const threads = (Array.isArray(t.threads) && t.threads.length ? t.threads.map(threadNumber) : [...new Set(steps.map((s) => s.thread))]).sort((a, b) => a - b);
  trace.style.setProperty('--cols', threads.length);
  const cols = threads.map((th) => {
    const col = h('div', { class: 'thread-col', dataset: { thread: th } }, h('div', { class: 'col-head' }, th === 0 ? 'T0 · setup' : `T${th}`));
    steps.forEach((s, i) => {
      if (s.thread !== th) {
        col.append(h('div', { class: 'gap', 'aria-hidden': 'true' }));
        return;
      }
      const src = h('a', { class: 'src', href: `#/step/${demo}`, title: s.code || s.location }, s.location);
      src.addEventListener('click', (e) => {
        e.preventDefault();
        select(i + 1);
      });
      col.append(h('div', { class: `step${s.note ? ' stale' : ''}`, dataset: { step: s.number, index: i, thread: th }, title: s.code || '' },
        h('div', { class: 'step-line' }, h('span', { class: 'num' }, `${s.number}`), h('span', { class: 'loc-name' }, stepName(s)), ' ', h('span', { class: 'op' }, stepOp(s)), ' ', h('span', { class: 'ord' }, s.ordering)),
        h('div', { class: 'step-line' }, h('span', { class: 'value' }, s.value), s.note ? h('span', { class: 'stale-note' }, ` ${/^stale/i.test(s.note) ? '' : 'stale: '}${s.note}`) : null),
        h('div', { class: 'step-line' }, src)));
    });
    return col;
  });
  put(trace, svg, ...cols);
}

// One path per edge, from the writer step to the reader step; the current step's own arrows are
// drawn last and brighter (class `touch`), the older ones fade.
function drawArrows(trace, svg, edges, current) {
  const box = trace.getBoundingClientRect();
  svg.setAttribute('width', trace.scrollWidth);
  svg.setAttribute('height', trace.scrollHeight);
  svg.setAttribute('viewBox', `0 0 ${trace.scrollWidth} ${trace.scrollHeight}`);
  const defs = h('defs', {},
    h('marker', { id: 'head-sw', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, h('path', { d: 'M0,0 L10,5 L0,10 z', class: 'head sw' })),
    h('marker', { id: 'head-rf', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, h('path', { d: 'M0,0 L10,5 L0,10 z', class: 'head rf' })));
  const rect = (n) => {
    const el = $(`.step[data-step="${n}"]`, trace);
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return { left: r.left - box.left, right: r.right - box.left, top: r.top - box.top, bottom: r.bottom - box.top, cx: (r.left + r.right) / 2 - box.left, cy: (r.top + r.bottom) / 2 - box.top };
  };
  const paths = [];
  for (const e of edges) {
    const a = rect(e.from);
    const b = rect(e.to);
    if (!a || !b) continue;
    let d;
    if (Math.abs(a.cx - b.cx) < 4) {
      const bulge = 28 + Math.min(50, Math.abs(b.cy - a.cy) / 8);
      d = `M${a.right},${a.cy} C${a.right + bulge},${a.cy} ${b.right + bulge},${b.cy} ${b.right + 1},${b.cy}`;
    } else {
      const ltr = a.cx < b.cx;
      const x1 = ltr ? a.right : a.left;
      const x2 = ltr ? b.left : b.right;
      const dx = (x2 - x1) / 2;
      d = `M${x1},${a.cy} C${x1 + dx},${a.cy} ${x2 - dx},${b.cy} ${x2},${b.cy}`;
    }
    const kind = e.kind === 'sw' ? 'sw' : 'rf';
    const touch = e.to === current || e.from === current;
    paths.push([touch, h('path', { d, class: `arrow ${kind}${touch ? ' touch' : ''}`, 'marker-end': `url(#head-${kind})`, dataset: { from: e.from, to: e.to } })]);
  }
  put(svg, defs, ...paths.filter((p) => !p[0]).map((p) => p[1]), ...paths.filter((p) => p[0]).map((p) => p[1]));
}

async function loadReplay(d, variant, box) {
  put(box);
  if (!d.step) return;
  const r = await api('GET', `/api/replay?demo=${encodeURIComponent(d.name)}&variant=${encodeURIComponent(variant)}`);
  if (!r.ok) {
    put(box, h('h3', {}, 'Deterministic replay'), h('p', { class: 'muted' }, r.data.error));
    return;
  }
  const rp = r.data;
  put(box, h('h3', {}, 'Deterministic replay'),
    rp.intro ? h('p', {}, rp.intro) : null,
    h('ol', { class: 'replay-steps' }, (rp.steps || []).map((s) => h('li', {}, h('pre', {}, s.replace(/^\s*\d+\.\s*/, ''))))),
    rp.outcome ? h('p', { class: 'outcome' }, rp.outcome) : null);
}

// ---------------------------------------------------------------------------------------------
// You are the scheduler

function renderScheduler(main, name) {
  const d = demoOr404(main, name);
  if (!d) return;
  if (!d.schedulable) {
    main.append(notFound(`${name} has no "you are the scheduler" round: it is for the two-thread demos.`));
    return;
  }
  const error = errorBox('sched-error');
  const variant = h('select', { id: 'sched-variant', name: 'sched-variant' }, h('option', { value: 'broken' }, 'broken'), h('option', { value: 'fixed' }, 'fixed'));
  const threadButtons = h('div', { class: 'thread-buttons' });
  const undo = h('button', { type: 'button', id: 'sched-undo' }, 'Undo');
  const reset = h('button', { type: 'button', id: 'sched-reset' }, 'Reset');
  const hint = h('button', { type: 'button', id: 'sched-hint' }, 'Show me a failing schedule');
  const stepwise = h('input', { type: 'checkbox', id: 'sched-hint-stepwise' });
  const hintNext = h('button', { type: 'button', id: 'sched-hint-next', hidden: true }, 'Play the next hinted step');
  const hintAll = h('button', { type: 'button', id: 'sched-hint-all', hidden: true }, 'Play the rest');
  const hintText = h('p', { id: 'sched-hint-text', class: 'hint', hidden: true });
  const replayFixed = h('button', { type: 'button', id: 'sched-replay-fixed' }, 'Replay these choices on the fixed variant');
  const choicesText = h('p', { id: 'sched-choices', class: 'choices' });
  const verdict = h('div', { id: 'sched-verdict', class: 'verdict-box', 'aria-live': 'polite' });
  const traceBox = h('div', { id: 'sched-trace', class: 'sched-trace' });
  const stateBox = h('div', { id: 'sched-state', class: 'sched-state' });
  const note = h('p', { id: 'sched-note', class: 'muted' });

  let choices = [];
  let hintSeq = null; // the checker's failing schedule, once asked for
  let hintQueue = []; // what is left of it while the choices follow it (broken variant only)
  // Every action waits for the one before: two quick clicks are two steps, in order.
  let chain = Promise.resolve();
  const serial = (f) => {
    chain = chain.then(f).catch((e) => error.show(String(e)));
    return chain;
  };

  const post = (v, cs) => api('POST', '/api/schedule', { demo: d.name, variant: v, choices: cs });

  const render = (play) => {
    choices = play.choices || choices;
    const following = hintSeq && variant.value === 'broken' && choices.length < hintSeq.length && choices.every((c, i) => c === hintSeq[i]);
    hintQueue = following ? hintSeq.slice(choices.length) : [];
    const threads = (play.threads || []).filter((t) => t.id !== 0);
    put(threadButtons, ...threads.map((t) => {
      const nx = t.next;
      const label = nx ? `T${t.id}: ${nx.name ? `${nx.name}.` : ''}${nx.op}` : `T${t.id}: ${t.state}`;
      return h('button', {
        type: 'button', id: `sched-t${t.id}`, class: `thread-btn${hintQueue[0] === t.id ? ' hinted' : ''}`, disabled: t.state !== 'runnable' || !nx,
        title: nx ? `${nx.code || ''} (${nx.location || ''})` : t.state, onclick: () => choose(t.id),
      }, label);
    }));
    undo.disabled = choices.length === 0;
    reset.disabled = choices.length === 0;
    choicesText.textContent = choices.length ? `Your schedule: ${choices.map((c) => `T${c}`).join(' → ')}` : 'Your schedule: (nothing yet — the setup ran)';
    const steps = play.steps || [];
    const setup = steps.filter((st) => threadNumber(st.thread) === 0);
    const chosen = steps.filter((st) => threadNumber(st.thread) !== 0);
    put(traceBox, h('h3', {}, `The trace so far (${chosen.length} chosen step${chosen.length === 1 ? '' : 's'})`),
      setup.length ? h('details', { class: 'setup' }, h('summary', {}, `T0 (the setup, and the final check) ran ${setup.length} step${setup.length === 1 ? '' : 's'}`), h('div', { class: 'table-wrap' }, stepsTable(setup))) : null,
      chosen.length ? h('div', { class: 'table-wrap' }, stepsTable(chosen)) : h('p', { class: 'muted' }, 'No step chosen yet.'));
    const locs = play.locations || {};
    put(stateBox, h('h3', {}, 'Memory now'), h('table', { class: 'data locs' },
      h('tbody', {}, Object.entries(locs).map(([k, v]) => h('tr', {}, h('th', { scope: 'row', class: 'loc-name' }, k), h('td', { class: 'value' }, v))))));
    verdict.className = 'verdict-box';
    if (play.done && play.verdict) {
      const v = play.verdict;
      verdict.classList.add(v.broken ? 'broken' : 'survived');
      put(verdict, h('strong', {}, v.broken ? `It broke (${play.case || variant.value} variant): ` : 'It survived this schedule: '), v.text || '');
    } else if (play.done) {
      verdict.classList.add('survived');
      put(verdict, h('strong', {}, 'Every thread finished: it survived this schedule.'));
    } else {
      put(verdict, h('span', { class: 'muted' }, 'Pick the thread that takes the next step.'));
    }
    hintNext.hidden = hintAll.hidden = hintQueue.length === 0;
  };

  const apply = async (v, cs) => {
    const r = await post(v, cs);
    if (!r.ok) {
      error.show(r.data.error);
      return null;
    }
    error.clear();
    render(r.data);
    return r.data;
  };

  const choose = (t) => serial(() => apply(variant.value, [...choices, t]));

  const start = () => serial(() => {
    hintSeq = null;
    hintText.hidden = true;
    note.textContent = '';
    return apply(variant.value, []);
  });

  undo.addEventListener('click', () => serial(() => {
    note.textContent = '';
    return apply(variant.value, choices.slice(0, -1));
  }));
  reset.addEventListener('click', start);
  variant.addEventListener('change', start);

  hint.addEventListener('click', () => serial(async () => {
    const r = await api('GET', `/api/schedule/hint?demo=${encodeURIComponent(d.name)}&variant=broken`);
    if (!r.ok) {
      error.show(r.data.error);
      return;
    }
    const hc = r.data.choices || [];
    hintSeq = hc;
    hintText.hidden = false;
    hintText.textContent = `The checker's failing schedule for the broken variant: ${hc.map((c) => `T${c}`).join(' → ')}`;
    note.textContent = '';
    if (variant.value !== 'broken') variant.value = 'broken';
    if (stepwise.checked) {
      await apply('broken', []);
    } else {
      await apply('broken', hc);
    }
  }));
  hintNext.addEventListener('click', () => hintQueue.length && choose(hintQueue[0]));
  hintAll.addEventListener('click', () => serial(() => {
    return apply(variant.value, [...choices, ...hintQueue]);
  }));

  // The same choices on the fixed variant. The fixed code may take other steps (a CAS that fails
  // retries): a choice its thread cannot take there is skipped, and once the choices run out the
  // threads left finish in order, so the round always ends with a verdict.
  replayFixed.addEventListener('click', () => serial(async () => {
    const wanted = choices.slice();
    variant.value = 'fixed';
    let r = await post('fixed', wanted);
    let play = r.ok ? r.data : null;
    const skipped = [];
    let used = wanted;
    if (!r.ok) {
      used = [];
      play = null;
      for (const c of wanted) {
        const t = await post('fixed', [...used, c]);
        if (t.ok) {
          used.push(c);
          play = t.data;
        } else skipped.push(c);
      }
      if (!play) {
        const t = await post('fixed', []);
        if (!t.ok) {
          error.show(t.data.error);
          return;
        }
        play = t.data;
      }
    }
    let added = 0;
    while (play && !play.done && added < 500) {
      const runnable = (play.threads || []).filter((t) => t.id !== 0 && t.state === 'runnable');
      if (!runnable.length) break;
      const last = used[used.length - 1];
      const pick = (runnable.find((t) => t.id === last) || runnable[0]).id;
      const t = await post('fixed', [...used, pick]);
      if (!t.ok) {
        error.show(t.data.error);
        break;
      }
      used = [...used, pick];
      play = t.data;
      added += 1;
    }
    if (play) {
      error.clear();
      render(play);
    }
    const bits = [`Replayed your ${wanted.length} choice${wanted.length === 1 ? '' : 's'} on the fixed variant.`];
    if (skipped.length) bits.push(`${skipped.length} choice${skipped.length === 1 ? '' : 's'} named a thread that could not run there and ${skipped.length === 1 ? 'was' : 'were'} skipped.`);
    if (added) bits.push(`The fixed code needed ${added} more step${added === 1 ? '' : 's'} than your choices cover (it takes other steps: a CAS that fails retries): they ran in order until every thread finished.`);
    note.textContent = bits.join(' ');
  }));

  main.append(h('section', { id: 'scheduler' },
    h('p', { class: 'crumbs' }, h('a', { href: `#/demo/${d.name}` }, d.name), ' / you are the scheduler'),
    h('h2', {}, `You are the scheduler: ${d.name}`),
    h('p', { class: 'lesson' }, 'The real algorithm runs under a controlled scheduler: each button lets that thread take its next atomic step. ',
      'Find an interleaving that breaks the broken variant, then replay it on the fixed one and watch it survive.'),
    h('p', { class: 'goal' }, h('strong', {}, 'Goal: '), SCHED_GOALS[d.name] || 'break the broken variant by choosing the interleaving.'),
    h('div', { class: 'sched-controls' },
      h('label', { for: 'sched-variant' }, 'variant'), variant, threadButtons),
    h('div', { class: 'sched-controls' }, undo, reset, hint,
      h('span', { class: 'auto' }, stepwise, h('label', { for: 'sched-hint-stepwise' }, 'hint step by step')), hintNext, hintAll, replayFixed),
    hintText,
    choicesText,
    error,
    verdict,
    note,
    h('div', { class: 'sched-panels' }, traceBox, stateBox)));
  start();
}

// ---------------------------------------------------------------------------------------------
// Matrix and bench report

const MATRIX_COLUMNS = ['loom', 'shuttle random', 'shuttle PCT', 'real hardware'];

function renderMatrix(main) {
  const error = errorBox('matrix-error');
  const progress = h('div', { id: 'matrix-progress', class: 'progress', 'aria-live': 'polite', hidden: true });
  const table = h('table', { id: 'matrix-table', class: 'data matrix' });
  const fill = (rows) => {
    put(table, 
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'bug'), MATRIX_COLUMNS.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, (rows || []).map((r) => h('tr', {}, h('th', { scope: 'row' }, r.bug),
        (r.cells || []).map((c) => h('td', { class: `cell ${String(c.verdict).replace(/\s+/g, '-')}`, title: c.verdict }, c.text))))));
  };
  fill(state.lastMatrix);
  const run = h('button', { type: 'button', id: 'matrix-run', class: 'primary', 'data-starts-job': true, disabled: !!state.job }, 'Run the matrix');
  run.addEventListener('click', () => startJob('/api/matrix', {}, {
    error,
    progress,
    onResult: (ev) => {
      state.lastMatrix = Array.isArray(ev.output) ? ev.output : [];
      fill(state.lastMatrix);
    },
  }));
  main.append(h('section', { id: 'matrix' },
    h('h2', {}, 'The detection matrix'),
    h('p', { class: 'lesson' }, 'Every broken variant under every checker and on real cores: found (and after how many executions or iterations), missed, or blind (the tool cannot see that bug class). It runs every checker on every bug, so it takes a while.'),
    h('div', { class: 'buttons' }, run, h('button', { type: 'button', id: 'matrix-cancel', 'data-cancels-job': true, disabled: !state.job, onclick: () => state.job && cancelJob(state.job.id) }, 'Cancel')),
    error,
    progress,
    h('div', { class: 'table-wrap' }, table)));
}

async function renderBench(main) {
  const body = h('div', { id: 'bench-report', class: 'markdown' }, h('p', { class: 'muted' }, 'loading the report…'));
  const sec = h('section', { id: 'bench' }, h('h2', {}, 'Bench report'), body);
  main.append(sec);
  const r = await api('GET', '/api/bench-report');
  if (!r.ok) {
    put(body, h('p', { class: 'notice' }, r.data.error));
    return;
  }
  body.innerHTML = markdown(r.data.markdown || '');
  // Each linked chart drawn under its line.
  for (const a of $$('a[href^="/bench-report-charts/"][href$=".svg"]', body)) {
    const holder = a.closest('li, p') || a.parentElement;
    holder.append(h('div', { class: 'plot bench-chart' }, h('img', { src: a.getAttribute('href'), alt: `chart: ${a.textContent}`, loading: 'lazy' })));
  }
  if (r.data.path) body.append(h('p', { class: 'muted' }, `from ${r.data.path}`));
}

// A minimal markdown renderer for the bench report: headings, tables, lists, code, paragraphs.
// The text is escaped first; links keep only http(s) and in-page targets; images show their alt.
function inline(text) {
  let s = escapeHtml(text);
  const codes = [];
  s = s.replace(/`([^`]+)`/g, (_, c) => {
    codes.push(c);
    return `\u0000${codes.length - 1}\u0000`;
  });
  s = s.replace(/!\[([^\]]*)\]\(([^)]*)\)/g, (_, alt) => `<span class="img-alt">[${alt}]</span>`);
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, t, url) => {
    // The bench report links its charts relative to itself; the server serves them at one path.
    const chart = url.match(/(?:^|\/)bench-report-charts\/([\w.-]+)$/);
    if (chart) return `<a href="/bench-report-charts/${chart[1]}">${t}</a>`;
    return /^(https?:|#)/.test(url) ? `<a href="${url}" rel="noopener">${t}</a>` : t;
  });
  s = s.replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
  s = s.replace(/(^|[^*])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>');
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => `<code>${codes[Number(i)]}</code>`);
}

function markdown(md) {
  const lines = md.replace(/\r\n/g, '\n').split('\n');
  const out = [];
  let para = [];
  const flush = () => {
    if (para.length) out.push(`<p>${inline(para.join(' '))}</p>`);
    para = [];
  };
  const cells = (l) => l.trim().replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (/^```/.test(l)) {
      flush();
      const code = [];
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) code.push(lines[i]);
      out.push(`<pre><code>${escapeHtml(code.join('\n'))}</code></pre>`);
    } else if (/^#{1,6}\s/.test(l)) {
      flush();
      const n = Math.min(6, l.match(/^#+/)[0].length + 1);
      out.push(`<h${n}>${inline(l.replace(/^#+\s*/, ''))}</h${n}>`);
    } else if (/^\s*\|/.test(l)) {
      flush();
      const rows = [];
      for (; i < lines.length && /^\s*\|/.test(lines[i]); i++) rows.push(lines[i]);
      i--;
      const sep = rows.length > 1 && /^[\s|:-]+$/.test(rows[1]);
      const head = sep ? cells(rows[0]) : null;
      const bodyRows = rows.slice(sep ? 2 : 0).map(cells);
      out.push(`<div class="table-wrap"><table class="data">${head ? `<thead><tr>${head.map((c) => `<th>${inline(c)}</th>`).join('')}</tr></thead>` : ''}<tbody>${bodyRows.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`);
    } else if (/^\s*([-*]|\d+\.)\s+/.test(l)) {
      flush();
      const ordered = /^\s*\d+\./.test(l);
      const items = [];
      for (; i < lines.length && /^\s*([-*]|\d+\.)\s+/.test(lines[i]); i++) items.push(lines[i].replace(/^\s*([-*]|\d+\.)\s+/, ''));
      i--;
      const tag = ordered ? 'ol' : 'ul';
      out.push(`<${tag}>${items.map((t) => `<li>${inline(t)}</li>`).join('')}</${tag}>`);
    } else if (/^\s*(---+|\*\*\*+)\s*$/.test(l)) {
      flush();
      out.push('<hr>');
    } else if (l.trim() === '') {
      flush();
    } else {
      para.push(l.trim());
    }
  }
  flush();
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Start

window.addEventListener('hashchange', route);
(async () => {
  pollStatus();
  if (await loadCatalogue()) route();
})();
