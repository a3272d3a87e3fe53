/* Render every chart of the page with the vendored vega-embed (no network).
   The site builder replaces each altair output of the executed notebooks with
   <div class="usersim-chart" data-spec="ID"> and <script type="application/json" id="ID">. */
(function () {
  "use strict";
  var options = {
    renderer: "svg",
    // Export only: "source" and "compiled" duplicate the page, "editor" opens another host.
    actions: { export: true, source: false, compiled: false, editor: false },
  };
  function renderAll() {
    document.querySelectorAll("div.usersim-chart[data-spec]").forEach(function (el) {
      var holder = document.getElementById(el.getAttribute("data-spec"));
      var spec = JSON.parse(holder.textContent);
      vegaEmbed(el, spec, options).catch(function (err) {
        el.textContent = "This chart could not be drawn: " + err.message;
        console.error(err);
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", renderAll);
  } else {
    renderAll();
  }
})();
