// The dashboard page's dead-letter panel: a part of page-js.ts's script, put in at its
// DEAD_LETTER_PANEL mark, inside the page's function (it uses put, row, cell, taskLink,
// fmtTime, el and $ from there). Same rules: textContent only, no backquotes or dollar-brace.
export const DEAD_LETTER_PANEL_JS = String.raw`  // The dead letter: the server's whole (bounded) list each time; the page shows the retry command, it never posts.
  function renderDeadLetter(b) {
    put($('dead-letter'), b.tasks.map(function (d) {
      var att = d.attemptsUsed + ' / ' + d.maxAttempts + (d.lost ? ' (' + d.lost + ' lost)' : '') + (d.retries ? ', retried ' + d.retries + 'x' : '');
      return row([fmtTime(d.finishedAt), cell(taskLink(d.id)), d.type, d.kind, cell(el('span', null, d.message), 'wrap reason'), att, cell(el('code', null, d.retry))], 'data-dead', d.id);
    }));
    // seeded false: only failures since the server's feed opened; complete false: the seed read the newest b.scan finished only.
    $('dead-letter-note').textContent = !b.seeded ? '(failures since this page opened; all: drover list --dead-letter)'
      : b.tasks.length ? '(newest ' + b.tasks.length + '; all: drover list --dead-letter)'
      : b.complete ? '(no failed tasks)' : '(none among the newest ' + b.scan + ' finished tasks; all: drover list --dead-letter)';
  }
`;
