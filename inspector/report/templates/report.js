(function () {
  // Sortable tables: click a heading; numeric columns sort by their raw byte counts (data-sort).
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, col) {
      th.addEventListener("click", function () {
        var asc = !th.classList.contains("sorted-asc");
        table.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(asc ? "sorted-asc" : "sorted-desc");
        var numeric = th.classList.contains("num");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute("data-sort"), y = b.cells[col].getAttribute("data-sort");
          var c = numeric ? (parseFloat(x) - parseFloat(y)) : x.localeCompare(y);
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  // Self-check for automated tests: how many charts drew a non-empty SVG, and which errors happened.
  function check() {
    var plots = document.querySelectorAll(".js-plotly-plot");
    var drawn = 0;
    plots.forEach(function (p) {
      var svg = p.querySelector("svg.main-svg");
      if (svg && svg.querySelectorAll("path, rect").length > 0) { drawn += 1; }
    });
    document.documentElement.setAttribute("data-charts", String(drawn));
    document.documentElement.setAttribute("data-plots", String(plots.length));
    document.documentElement.setAttribute("data-errors", (window.__inspectorErrors || []).join(" | "));
    // Layout self-check: the smallest plot area (px), titles overlapping a legend, tables wider than the page.
    var minArea = 100000, overlaps = 0;
    plots.forEach(function (p) {
      var area = p.querySelector(".nsewdrag") || p.querySelector(".treemaplayer");
      if (area) { minArea = Math.min(minArea, Math.round(area.getBoundingClientRect().height)); }
      var title = p.querySelector(".gtitle"), legend = p.querySelector(".legend");
      if (title && legend) {
        var a = title.getBoundingClientRect(), b = legend.getBoundingClientRect();
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) { overlaps += 1; }
      }
    });
    var wide = 0;
    document.querySelectorAll("table").forEach(function (t) {
      if (t.getBoundingClientRect().right > document.documentElement.clientWidth + 1) { wide += 1; }
    });
    document.documentElement.setAttribute("data-min-plot-height", String(plots.length ? minArea : 0));
    document.documentElement.setAttribute("data-overlaps", String(overlaps));
    document.documentElement.setAttribute("data-wide-tables", String(wide));
  }
  window.addEventListener("load", function () { setTimeout(check, 0); setTimeout(check, 500); });
})();
