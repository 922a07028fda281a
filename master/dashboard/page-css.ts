// The dashboard page's style (served at /dashboard.css: the CSP allows no inline style).
export const PAGE_CSS = `:root{--fg:#1d2330;--muted:#6b7385;--line:#e2e5ec;--bg:#f6f7fa;--card:#fff;--ok:#1a7f37;--bad:#c62828;--warn:#b26a00;--acc:#2f5bd3}
*{box-sizing:border-box}
body{margin:0;font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;gap:12px;align-items:center;padding:8px 16px;background:var(--card);border-bottom:1px solid var(--line);flex-wrap:wrap}
h1{font-size:18px;margin:0}
h2{font-size:14px;margin:0 0 8px}
main{padding:12px 16px;display:flex;flex-direction:column;gap:12px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
.scroll{max-height:380px;overflow:auto}
.scroll.short{max-height:240px}
.card,#detail{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px 12px;overflow:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px 3px 0;border-bottom:1px solid var(--line);vertical-align:top;white-space:nowrap}
td.wrap{white-space:normal;word-break:break-word;max-width:480px}
th{color:var(--muted);font-weight:500}
.muted{color:var(--muted)}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
pre{background:var(--bg);border:1px solid var(--line);padding:8px;overflow:auto;max-height:360px;white-space:pre-wrap;word-break:break-word}
#search{margin-left:auto;display:flex;gap:4px}
#search input{width:220px;padding:3px 6px}
#live{padding:2px 8px;border-radius:10px;background:var(--line)}
#live[data-state=live]{background:#dcf3e2;color:var(--ok)}
#live[data-state=down],#live[data-state=stale]{background:#fde2e2;color:var(--bad)}
.numbers{display:flex;gap:18px;margin-bottom:6px;flex-wrap:wrap}
.numbers b{display:block;font-size:18px}
.chart svg{width:100%;height:140px;display:block}
.chart .depth{fill:none;stroke:var(--acc);stroke-width:1.5}
.chart .rate{fill:none;stroke:var(--ok);stroke-width:1;stroke-dasharray:3 2}
.chart .axis{stroke:var(--line)}
.chart text{fill:var(--muted);font-size:10px}
.st{padding:0 6px;border-radius:8px;background:var(--line)}
.st-succeeded,.st-alive{background:#dcf3e2;color:var(--ok)}
.st-failed{background:#fde2e2;color:var(--bad)}
.st-running,.st-assigned{background:#e3ebff;color:var(--acc)}
.st-draining,.st-cancelled,.st-init{background:#fff1d6;color:var(--warn)}
a{color:var(--acc)}
.pager button{margin-right:6px}
`;
