"""The site's stylesheet and script, written next to the pages (no CDN, no external request)."""

from __future__ import annotations

SITE_CSS = """\
:root { --fg: #1b1f24; --muted: #5b6470; --line: #d5dae0; --accent: #1f5fbf; --paper: #f6f1e3; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1600px; padding: 0 1rem 3rem; }
main p, main dl, main figure { max-width: 75rem; }
header { display: flex; gap: 1rem; align-items: baseline; border-bottom: 1px solid var(--line);
         padding: .8rem 0; margin-bottom: 1rem; }
header a.home { font-weight: 700; font-size: 1.15rem; text-decoration: none; color: var(--fg); }
a { color: var(--accent); }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
.muted, figcaption, .legend { color: var(--muted); font-size: .9rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .85rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .45rem; text-align: left;
         vertical-align: top; overflow-wrap: break-word; }
td.args { font-size: .75rem; max-width: 16rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: var(--line); }
table.sortable th[aria-sort="ascending"]::after { content: " \\2191"; color: var(--fg); }
table.sortable th[aria-sort="descending"]::after { content: " \\2193"; color: var(--fg); }
table.reported { background: var(--paper); }
.badge { display: inline-block; font-size: .75rem; padding: 0 .4rem; border-radius: .6rem;
         background: var(--paper); border: 1px solid #d8cca5; }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: #f3f5f7; padding: .6rem .8rem; overflow-x: auto; border-radius: 4px; }
pre.reproduce { white-space: pre-wrap; word-break: break-all; }
figure { margin: .5rem 0 1.2rem; }
figure img { max-width: 100%; image-rendering: pixelated; border: 1px solid var(--line); }
svg.chart { max-width: 100%; height: auto; background: #fff; }
svg.chart text { font: 11px system-ui, sans-serif; fill: var(--muted); }
.panels { display: flex; flex-wrap: wrap; gap: .2rem 1rem; }
.panels svg.chart { width: 280px; }
.curves-grid { display: flex; flex-wrap: wrap; gap: 0 1.5rem; }
.curves-grid figure { flex: 0 1 640px; min-width: 0; }
details.overlay > summary { cursor: pointer; color: var(--accent); margin: .2rem 0 .6rem; }
td[title] { cursor: help; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-word; }
"""

SITE_JS = """\
"use strict";
// Click (or Enter on) a header of a sortable table to sort its rows by that column; again to
// reverse. Cells sort by their data-value (numbers) or their text; empty cells always go last.
(function () {
  function cellKey(row, index) {
    var cell = row.cells[index];
    if (!cell) { return null; }
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    if (raw === "" || raw === "\\u2014") { return null; }
    var number = Number(raw);
    return isNaN(number) ? raw.toLowerCase() : number;
  }
  function compare(a, b) {
    if (a === null && b === null) { return 0; }
    if (a === null) { return 1; }
    if (b === null) { return -1; }
    if (typeof a === typeof b) { return a < b ? -1 : a > b ? 1 : 0; }
    return typeof a === "number" ? -1 : 1;
  }
  function sortBy(table, th, index) {
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var a = cellKey(r1, index), b = cellKey(r2, index);
      if (a === null || b === null) { return compare(a, b); }
      return ascending ? compare(a, b) : compare(b, a);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, th, index); });
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { sortBy(table, th, index); }
      });
    });
  });
})();
"""
