// The dashboard page's task detail view: a part of page-js.ts's script, put in at its
// TASK_DETAIL mark, inside the page's function (it uses put, row, cell, el, badge, taskLink,
// fmtTime, fmtDur, now, RECORD_CHARS and $ from there). Same rules: textContent only, no
// backquotes or dollar-brace.
export const TASK_DETAIL_JS = String.raw`  function kv(pairs) {
    var t = el('table');
    pairs.forEach(function (p) { if (p[1] !== undefined) t.appendChild(row([el('th', null, p[0]), cell(p[1] instanceof Node ? p[1] : el('span', null, p[1]), 'wrap')])); });
    return t;
  }
  // A task's parents or children (first 100: client/task-dag-view.ts), each a link, with the count.
  function idLinks(items, count, complete) {
    var span = el('span', null, count + (complete ? '' : '+') + ': ');
    items.forEach(function (it, i) { if (i) span.appendChild(document.createTextNode(', ')); span.appendChild(taskLink(it[0])); if (it[1]) span.appendChild(document.createTextNode(' ' + it[1])); });
    if (count > items.length) span.appendChild(document.createTextNode(' \u2026'));
    return span;
  }
  function renderDetail(t, used) {
    var parts = [kv([['state', badge(t.state)], ['type', t.type], ['attempt', t.attempt + ' (' + used + ' of ' + t.maxAttempts + ' used, ' + (t.lost || 0) + ' lost to infrastructure)'],
      ['retried', t.retries ? t.retries + ' times, last ' + fmtTime(t.retriedAt) : undefined],
      ['worker', t.worker || '\u2014'], ['priority', String(t.priority)], ['labels', fmtLabels(t.labels)], ['timeout', t.timeoutMs ? fmtDur(t.timeoutMs) : 'none'],
      ['created', fmtTime(t.createdAt)], ['assigned', t.assignedAt ? fmtTime(t.assignedAt) : undefined], ['started', t.startedAt ? fmtTime(t.startedAt) : undefined],
      ['finished', t.finishedAt ? fmtTime(t.finishedAt) : undefined], ['error', t.error ? t.error.kind + ': ' + t.error.message : undefined],
      ['parents', t.parents ? idLinks(t.parents.shown.map(function (p) { return [p.id, p.state || 'gone']; }), t.parents.count, true) : undefined],
      ['children', t.children ? idLinks(t.children.shown.map(function (c) { return [c]; }), t.children.count, t.children.complete) : undefined]])];
    if (t.error && t.error.stack) parts.push(el('pre', 'stack', t.error.stack));
    if (t.progress !== undefined) { parts.push(el('h3', null, 'Progress')); parts.push(el('pre', null, JSON.stringify(t.progress, null, 2))); }
    parts.push(el('h3', null, 'Attempts'));
    var h = el('table'), head = el('tr');
    ['attempt', 'worker', 'assigned', 'started', 'ended', 'took', 'outcome', 'error'].forEach(function (c) { head.appendChild(el('th', null, c)); });
    h.appendChild(head);
    var tb = el('tbody'); tb.id = 'history';
    (t.history || []).forEach(function (a) {
      var took = a.endedAt && (a.startedAt || a.assignedAt) ? fmtDur(a.endedAt - (a.startedAt || a.assignedAt)) : '\u2014';
      tb.appendChild(row([String(a.attempt), a.worker || '\u2014', fmtTime(a.assignedAt), fmtTime(a.startedAt), fmtTime(a.endedAt), took, cell(badge(a.outcome)),
        cell(el('span', null, a.error ? a.error.kind + ': ' + a.error.message : ''), 'wrap')], 'data-attempt', String(a.attempt)));
    });
    var inHistory = (t.history || []).some(function (a) { return a.attempt === t.attempt; });
    if (t.attempt > 0 && !inHistory && (t.state === 'assigned' || t.state === 'running')) {
      tb.appendChild(row([String(t.attempt), t.worker || '\u2014', fmtTime(t.assignedAt), fmtTime(t.startedAt), '\u2014', t.startedAt ? fmtDur(now() - t.startedAt) : '\u2014', cell(badge(t.state)), ''], 'data-attempt', String(t.attempt)));
    }
    if (!tb.firstChild) tb.appendChild(row(['none yet']));
    h.appendChild(tb);
    parts.push(h);
    parts.push(el('h3', null, 'Record'));
    var json = JSON.stringify(t, null, 2);
    if (json.length > RECORD_CHARS) json = json.slice(0, RECORD_CHARS) + '\n\u2026 (' + (json.length - RECORD_CHARS) + ' more characters)';
    var pre = el('pre', 'record', json); pre.id = 'detail-record';
    parts.push(pre);
    put($('detail-body'), parts);
  }
`;
