// The dashboard page's script (served at /dashboard.js: the CSP allows no inline script).
// Plain browser JavaScript, no framework, no build step. Every value shown goes in through
// textContent or an attribute set by setAttribute: a payload or an error message is data,
// never markup (no innerHTML anywhere). Live updates: server-sent events on /api/events.
// (Kept free of backquotes and dollar-brace so it can live in this template string as is.)
import { compareVersions } from './record-order.js';
import { DEAD_LETTER_PANEL_JS } from './page-js-dead-letter.js';
import { TASK_DETAIL_JS } from './page-js-detail.js';

// The server's rule for which version of a task is newer (record-order.ts), put in as its source.
const PAGE_JS_SOURCE = String.raw`'use strict';
(function () {
  var SVGNS = 'http://www.w3.org/2000/svg';
  var RECENT_SHOWN = 50, RECENT_KEPT = 200, FAIL_SHOWN = 20, FAIL_KEPT = 50, SERIES_MAX = 300, RECORD_CHARS = 100000;
  var st = { ov: null, series: [], skew: 0, recent: new Map(), failures: [], failKeys: new Set(), workerOffset: 0, workerPage: null, detailId: null,
    stream: { state: 'connecting', text: 'connecting' } };
  var RECONNECT_MS = 5000;
  /*COMPARE_VERSIONS*/

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function put(node, children) {
    while (node.firstChild) node.removeChild(node.firstChild);
    children.forEach(function (c) { node.appendChild(c); });
  }
  function row(cells, attr, value) {
    var tr = el('tr');
    if (attr) tr.setAttribute(attr, value);
    cells.forEach(function (c) { tr.appendChild(c instanceof Node ? c : el('td', null, c)); });
    return tr;
  }
  function cell(child, cls) { var td = el('td', cls); td.appendChild(child); return td; }
  function badge(s) { return el('span', 'st st-' + String(s).replace(/[^a-z-]/g, ''), s); }
  function now() { return Date.now() + st.skew; }
  function fmtTime(ms) { return ms ? new Date(ms).toLocaleTimeString() : '\u2014'; }
  function fmtDur(ms) {
    if (ms === null || ms === undefined) return '\u2014';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    if (ms < 3600000) return Math.floor(ms / 60000) + ' m ' + Math.round((ms % 60000) / 1000) + ' s';
    return (ms / 3600000).toFixed(1) + ' h';
  }
  function fmtAgo(ms) { return ms ? fmtDur(Math.max(0, now() - ms)) + ' ago' : '\u2014'; }
  function fmtLabels(o) {
    var k = Object.keys(o || {});
    return k.length ? k.map(function (x) { return x + '=' + o[x]; }).join(', ') : '\u2014';
  }
  function taskLink(id) { var a = el('a', 'mono', id); a.href = '#/task/' + encodeURIComponent(id); return a; }
  function getJson(url) {
    return fetch(url, { headers: { accept: 'application/json' } }).then(function (r) {
      return r.json().then(function (body) { return { status: r.status, body: body }; });
    });
  }
  function setLive(state, text) { st.stream = { state: state, text: text }; renderLive(); }
  // The badge: the event stream's state, unless the master's own ZooKeeper session is not
  // connected: then what is shown is frozen, and the badge says since when.
  function renderLive() {
    var l = $('live'), z = st.ov && st.ov.zookeeper, state = st.stream.state, text = st.stream.text;
    if (state === 'live' && z && z.state !== 'connected') {
      state = 'stale';
      text = 'ZooKeeper ' + z.state + ' \u2014 sampled ' + (z.sampledAt ? fmtDur(Math.max(0, now() - z.sampledAt)) + ' ago' : 'never');
    }
    l.setAttribute('data-state', state);
    l.textContent = text;
  }

  function renderOverview(o) {
    st.ov = o;
    st.skew = o.now - Date.now();
    renderLive();
    $('root').textContent = 'root ' + o.root;
    $('self').textContent = 'served by ' + (o.self.name || 'this master') + ' (' + o.self.role + ')';
    var L = o.leader, parts = [];
    if (L) {
      var b = el('b', null, L.id); b.setAttribute('data-leader', L.id);
      parts = [el('span', null, 'Leader '), b, el('span', 'muted', ' ' + L.host + ':' + L.pid + ', epoch ' + L.epoch + ', leads since ' +
        fmtTime(L.since) + (L.sinceExact ? '' : ' at the earliest') + ' (' + fmtAgo(L.since) + ')')];
    } else parts = [el('b', 'bad', 'No leader')];
    put($('leader'), parts);
    put($('masters'), o.masters.map(function (m) {
      return row([m.id, m.host, String(m.pid), String(m.epoch), cell(badge(m.leader ? 'leader' : 'follower')), m.self ? 'this page' : ''], 'data-master', m.id);
    }));
    var n = function (label, v) { var d = el('div'); d.appendChild(el('b', null, v)); d.appendChild(el('span', 'muted', label)); return d; };
    var q = o.queue;
    put($('numbers'), [n('queued', q.depth === null ? '\u2014' : q.depth), n('in progress', q.inProgress === null ? '\u2014' : q.inProgress), n('finished (kept)', q.finished === null ? '\u2014' : q.finished),
      n('finished / s (1 min)', o.throughput.perSecond1m.toFixed(2)), n('workers alive', (o.byState.alive || 0) + ' of ' + o.total)]);
    if (o.series) st.series = o.series.slice(-SERIES_MAX);
    else if (o.sample && (!st.series.length || o.sample.at > st.series[st.series.length - 1].at)) {
      st.series.push(o.sample);
      if (st.series.length > SERIES_MAX) st.series.shift();
    }
    renderChart(o.sampleIntervalMs);
    if (st.workerOffset === 0) renderWorkers(o);
    else getJson('/api/workers?offset=' + st.workerOffset + '&limit=100').then(function (r) { if (r.status === 200) renderWorkers(r.body); });
    renderRecent();
  }

  function renderChart(intervalMs) {
    // The time axis spans the samples held (up to the ring's 10 minutes), at least a minute.
    var W = 600, H = 140, P = 18, s = st.series, t1 = now(), full = SERIES_MAX * (intervalMs || 2000);
    var span = Math.min(full, Math.max(60000, s.length ? t1 - s[0].at : 0)), t0 = t1 - span;
    var maxQ = 1, rates = [], maxR = 0;
    s.forEach(function (p, i) {
      maxQ = Math.max(maxQ, p.queued);
      if (i > 0) { var r = Math.max(0, p.done - s[i - 1].done) / Math.max(0.001, (p.at - s[i - 1].at) / 1000); rates.push([p.at, r]); maxR = Math.max(maxR, r); }
    });
    var x = function (t) { return (P + ((t - t0) / span) * (W - 2 * P)).toFixed(1); };
    var y = function (v, max) { return (H - P - (v / max) * (H - 2 * P)).toFixed(1); };
    var g = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'queue depth and finished per second, last ' + fmtDur(span) });
    g.appendChild(svg('line', { x1: P, y1: H - P, x2: W - P, y2: H - P, class: 'axis' }));
    g.appendChild(svg('line', { x1: P, y1: P, x2: P, y2: H - P, class: 'axis' }));
    g.appendChild(svg('polyline', { class: 'depth', points: s.map(function (p) { return x(p.at) + ',' + y(p.queued, maxQ); }).join(' ') }));
    if (maxR > 0) g.appendChild(svg('polyline', { class: 'rate', points: rates.map(function (p) { return x(p[0]) + ',' + y(p[1], maxR); }).join(' ') }));
    g.appendChild(svg('text', { x: P + 4, y: P - 4 }, 'queued (max ' + maxQ + ')'));
    g.appendChild(svg('text', { x: W - P, y: P - 4, 'text-anchor': 'end' }, 'finished/s, dashed (max ' + maxR.toFixed(1) + ')'));
    g.appendChild(svg('text', { x: P, y: H - 4 }, fmtDur(span) + ' ago'));
    g.appendChild(svg('text', { x: W - P, y: H - 4, 'text-anchor': 'end' }, 'now'));
    put($('chart'), [g]);
  }

  function renderWorkers(p) {
    st.workerPage = p;
    put($('workers'), p.workers.map(function (w) {
      var load = (w.load === null ? '?' : w.load) + ' / ' + w.capacity;
      return row([w.name, cell(badge(w.state)), load, cell(el('span', null, fmtLabels(w.labels)), 'wrap'), cell(el('span', null, w.types ? w.types.join(', ') : 'any'), 'wrap'),
        w.host, String(w.pid), fmtAgo(w.since)], 'data-worker', w.name);
    }));
    var off = p.workerOffset !== undefined ? p.workerOffset : (p.offset || 0);
    $('workers-count').textContent = p.total + ' (' + Object.keys(p.byState).map(function (k) { return p.byState[k] + ' ' + k; }).join(', ') + ')';
    var pager = [];
    if (p.total > p.workers.length || off > 0) {
      var prev = el('button', null, 'previous'), next = el('button', null, 'next');
      prev.type = next.type = 'button';
      prev.disabled = off === 0; next.disabled = off + p.workers.length >= p.total;
      prev.onclick = function () { st.workerOffset = Math.max(0, off - 100); renderOverview(st.ov); };
      next.onclick = function () { st.workerOffset = off + 100; renderOverview(st.ov); };
      pager = [prev, next, el('span', 'muted', (off + 1) + '\u2013' + (off + p.workers.length) + ' of ' + p.total)];
    }
    put($('workers-pager'), pager);
  }

  function mergeTask(t) {
    var prev = st.recent.get(t.id);
    if (prev && compareVersions(prev, t) > 0) return;
    st.recent.set(t.id, t);
    if (st.recent.size > 2 * RECENT_KEPT) {
      var keep = Array.from(st.recent.values()).sort(function (a, b) { return b.updatedAt - a.updatedAt; }).slice(0, RECENT_KEPT);
      st.recent = new Map(keep.map(function (k) { return [k.id, k]; }));
    }
  }
  function addFailure(f) {
    var key = f.id + '/' + f.attempt + '/' + f.outcome + '/' + f.at;
    if (st.failKeys.has(key)) return;
    st.failKeys.add(key);
    st.failures.push(f);
    st.failures.sort(function (a, b) { return b.at - a.at; });
    st.failures.slice(FAIL_KEPT).forEach(function (x) { st.failKeys.delete(x.id + '/' + x.attempt + '/' + x.outcome + '/' + x.at); });
    st.failures = st.failures.slice(0, FAIL_KEPT);
  }
  function renderRecent() {
    var list = Array.from(st.recent.values()).sort(function (a, b) { return b.updatedAt - a.updatedAt; }).slice(0, RECENT_SHOWN);
    put($('recent'), list.map(function (t) {
      var dur = t.durationMs !== null ? fmtDur(t.durationMs) : t.startedAt ? 'running ' + fmtDur(now() - t.startedAt) : '\u2014';
      var att = t.attempt + ' / ' + t.maxAttempts + (t.lost ? ' (' + t.lost + ' lost)' : '');
      return row([cell(taskLink(t.id)), t.type, cell(badge(t.state), 'state'), att, t.worker || '\u2014', dur, fmtAgo(t.updatedAt)], 'data-task', t.id);
    }));
    $('recent-note').textContent = st.recent.size ? '' : '(tasks that change while this page is open appear here)';
  }
  function renderFailures() {
    put($('failures'), st.failures.slice(0, FAIL_SHOWN).map(function (f) {
      return row([fmtTime(f.at), cell(taskLink(f.id)), f.type, String(f.attempt), cell(badge(f.outcome)), f.kind, cell(el('span', null, f.message), 'wrap reason')], 'data-failure', f.id);
    }));
  }

  /*DEAD_LETTER_PANEL*/

  /*TASK_DETAIL*/
  function openDetail(id) {
    st.detailId = id;
    $('detail').hidden = false;
    $('detail-id').textContent = id;
    $('detail-msg').textContent = 'loading\u2026';
    getJson('/api/task/' + encodeURIComponent(id)).then(function (r) {
      if (st.detailId !== id) return;
      if (r.status === 200) { $('detail-msg').textContent = ''; renderDetail(r.body.task, r.body.attemptsUsed); }
      else { $('detail-msg').textContent = r.body && r.body.error ? r.body.error : 'error ' + r.status; put($('detail-body'), []); }
    }, function (err) { $('detail-msg').textContent = 'could not load: ' + err.message; });
  }
  function route() {
    var m = /^#\/task\/(.+)$/.exec(location.hash);
    if (m) { var id; try { id = decodeURIComponent(m[1]); } catch (e) { id = m[1]; } openDetail(id); }
    else { st.detailId = null; $('detail').hidden = true; }
  }

  function loadLists() {
    getJson('/api/tasks/recent?limit=' + RECENT_KEPT).then(function (r) { if (r.status === 200) { r.body.tasks.forEach(mergeTask); renderRecent(); } });
    getJson('/api/failures?limit=' + FAIL_KEPT).then(function (r) { if (r.status === 200) { r.body.failures.forEach(addFailure); renderFailures(); } });
    getJson('/api/dead-letter?limit=200').then(function (r) { if (r.status === 200 && r.body.feed) renderDeadLetter(r.body); });
  }
  function load() {
    getJson('/api/overview').then(function (r) { if (r.status === 200) renderOverview(r.body); });
    loadLists();
  }
  function connect() {
    var es = new EventSource('/api/events'), down = false;
    es.addEventListener('overview', function (e) { renderOverview(JSON.parse(e.data)); });
    es.addEventListener('ready', function () { setLive('live', 'live'); });
    es.addEventListener('dead-letter', function (e) { renderDeadLetter(JSON.parse(e.data)); });
    es.addEventListener('feed-error', function (e) { setLive('down', 'task feed: ' + JSON.parse(e.data).message); });
    es.addEventListener('tasks', function (e) {
      var b = JSON.parse(e.data);
      b.tasks.forEach(mergeTask);
      b.failures.forEach(addFailure);
      renderRecent();
      renderFailures();
      // A batch that had to leave tasks out: the server's lists have them all.
      if (b.dropped > 0) loadLists();
      if (st.detailId && b.tasks.some(function (t) { return t.id === st.detailId; })) openDetail(st.detailId);
    });
    es.onerror = function () {
      down = true;
      // A non-200 answer (too many pages, dashboard closed) ends an EventSource for good:
      // a new one, after a while. Otherwise the browser itself retries (the stream's retry:).
      if (es.readyState === EventSource.CLOSED) {
        setLive('down', 'disconnected; trying again in ' + RECONNECT_MS / 1000 + ' s');
        setTimeout(function () { connect(); load(); }, RECONNECT_MS);
      } else setLive('down', 'reconnecting');
    };
    es.onopen = function () { if (down) { down = false; load(); } };
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('search').addEventListener('submit', function (e) {
      e.preventDefault();
      var id = $('search-id').value.trim();
      if (!id) return;
      var h = '#/task/' + encodeURIComponent(id);
      if (location.hash === h) route(); else location.hash = h;
    });
    $('detail-close').addEventListener('click', function () { location.hash = ''; });
    window.addEventListener('hashchange', route);
    route();
    load();
    connect();
    setInterval(renderLive, 1000);
  });
})();
`;

// The dead-letter panel (page-js-dead-letter.ts) and the task detail view (page-js-detail.ts) go in as they are, in the same scope (a replacer function: a '$' in it is no pattern).
export const PAGE_JS = PAGE_JS_SOURCE.replace('/*COMPARE_VERSIONS*/', `var compareVersions = ${compareVersions.toString()};`)
  .replace('  /*DEAD_LETTER_PANEL*/\n', () => DEAD_LETTER_PANEL_JS)
  .replace('  /*TASK_DETAIL*/\n', () => TASK_DETAIL_JS);
