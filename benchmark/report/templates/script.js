// Sortable tables, the metric switch and CSV download. Inline, no network: works from file://.
(function () {
  "use strict";
  function key(td) {
    var s = td.getAttribute("data-sort");
    if (s !== null && s !== "") { return {n: parseFloat(s)}; }
    return {t: td.textContent.trim().toLowerCase()};
  }
  function cmp(a, b) {
    if (a.n !== undefined && b.n !== undefined) { return a.n - b.n; }
    if (a.n !== undefined) { return -1; }          // numbers before missing values
    if (b.n !== undefined) { return 1; }
    return a.t < b.t ? -1 : (a.t > b.t ? 1 : 0);
  }
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
    var desc = th.getAttribute("aria-sort") !== "descending";
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", desc ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var a = key(r1.cells[idx]), b = key(r2.cells[idx]);
      var missingA = a.n === undefined && (a.t === "n/a" || a.t === "—" || a.t === ""),
          missingB = b.n === undefined && (b.t === "n/a" || b.t === "—" || b.t === "");
      if (missingA !== missingB) { return missingA ? 1 : -1; }   // missing always last
      var c = cmp(a, b);
      return desc ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function csvCell(s) {
    s = s.replace(/\s+/g, " ").trim();
    return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function download(table) {
    var lines = Array.prototype.map.call(table.rows, function (r) {
      return Array.prototype.map.call(r.cells, function (c) { return csvCell(c.textContent); }).join(",");
    });
    var blob = new Blob([lines.join("\n") + "\n"], {type: "text/csv"});
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = table.getAttribute("data-csv") || "table.csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  function showMetric(metric) {
    document.querySelectorAll("[data-metric-view]").forEach(function (el) {
      el.hidden = el.getAttribute("data-metric-view") !== metric;
    });
    document.querySelectorAll("button[data-metric]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-metric") === metric ? "true" : "false");
    });
  }
  document.addEventListener("click", function (e) {
    var th = e.target.closest("table.sortable th");
    if (th) { sortBy(th); return; }
    var b = e.target.closest("button.csv");
    if (b) { download(document.getElementById(b.getAttribute("data-table"))); return; }
    var m = e.target.closest("button[data-metric]");
    if (m) { showMetric(m.getAttribute("data-metric")); }
  });
  document.addEventListener("keydown", function (e) {
    var th = e.target.closest && e.target.closest("table.sortable th");
    if (th && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); sortBy(th); }
  });
  document.documentElement.classList.add("js");
}());
