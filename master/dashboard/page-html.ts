// The dashboard page's HTML: a static skeleton with no data in it. page-js.ts fills it in
// with DOM calls (textContent, createElement), so nothing shown is ever parsed as markup.
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>drover dashboard</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>drover</h1>
  <span id="root" class="muted"></span>
  <span id="self" class="muted"></span>
  <form id="search" autocomplete="off">
    <input id="search-id" name="id" placeholder="task id" aria-label="task id" spellcheck="false">
    <button type="submit">Find</button>
  </form>
  <span id="live" data-state="connecting">connecting</span>
</header>
<main>
  <section id="detail" hidden>
    <h2>Task <span id="detail-id"></span> <button id="detail-close" type="button">close</button></h2>
    <p id="detail-msg" class="muted"></p>
    <div id="detail-body"></div>
  </section>
  <section class="grid">
    <div class="card">
      <h2>Masters</h2>
      <p id="leader"></p>
      <table><thead><tr><th>id</th><th>host</th><th>pid</th><th>epoch</th><th>role</th><th>page</th></tr></thead><tbody id="masters"></tbody></table>
    </div>
    <div class="card">
      <h2>Queue</h2>
      <div id="numbers" class="numbers"></div>
      <div id="chart" class="chart"></div>
    </div>
  </section>
  <section class="card">
    <h2>Workers <span id="workers-count" class="muted"></span></h2>
    <table><thead><tr><th>name</th><th>state</th><th>load</th><th>labels</th><th>types</th><th>host</th><th>pid</th><th>since</th></tr></thead><tbody id="workers"></tbody></table>
    <p id="workers-pager" class="pager"></p>
  </section>
  <section class="card">
    <h2>Recent tasks <span id="recent-note" class="muted"></span></h2>
    <div class="scroll"><table><thead><tr><th>id</th><th>type</th><th>state</th><th>attempt</th><th>worker</th><th>duration</th><th>updated</th></tr></thead><tbody id="recent"></tbody></table></div>
  </section>
  <section class="card">
    <h2>Recent failures</h2>
    <div class="scroll short"><table><thead><tr><th>when</th><th>id</th><th>type</th><th>attempt</th><th>outcome</th><th>kind</th><th>reason</th></tr></thead><tbody id="failures"></tbody></table></div>
  </section>
  <section class="card" id="dead-letter-card">
    <h2>Dead letter <span id="dead-letter-note" class="muted"></span></h2>
    <div class="scroll short"><table><thead><tr><th>failed</th><th>id</th><th>type</th><th>kind</th><th>error</th><th>attempts</th><th>to retry</th></tr></thead><tbody id="dead-letter"></tbody></table></div>
  </section>
</main>
</body>
</html>
`;
