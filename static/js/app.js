// Small behaviours htmx does not cover: keep this file short.
(function () {
  "use strict";

  // Language menu: submit on change (a button is shown when scripts are off).
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
  });

  // Highlight the row being opened at once, before the pane arrives.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var link = event.detail.elt;
    if (!link.classList || !link.classList.contains("row-link")) return;
    document.querySelectorAll(".row.is-selected").forEach(function (row) {
      row.classList.remove("is-selected");
    });
    link.closest(".row").classList.add("is-selected");
  });

  // Sandboxed HTML bodies cannot run scripts, so the page sizes them to their content.
  function fitFrame(frame) {
    try {
      var doc = frame.contentDocument;
      if (doc && doc.documentElement) {
        frame.style.height = doc.documentElement.scrollHeight + 4 + "px";
      }
    } catch (e) {
      /* cross-origin: keep the CSS height */
    }
  }
  document.addEventListener(
    "load",
    function (event) {
      if (event.target.tagName === "IFRAME" && event.target.classList.contains("html-body")) {
        fitFrame(event.target);
      }
    },
    true
  );

  // After a swap, scroll the new pane to its top and move focus there for screen readers.
  document.addEventListener("htmx:afterSwap", function (event) {
    var pane = document.getElementById("message-pane");
    if (pane && event.detail.target === pane) pane.scrollTop = 0;
  });

  // Too large (413): htmx swaps no error page, so say what the server said, and keep the form.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.status !== 413) return;
    var box = new DOMParser().parseFromString(xhr.responseText, "text/html").querySelector(".error-box p");
    window.alert(box ? box.textContent.trim() : xhr.status + " " + xhr.statusText);
  });

  // Once shown, the compose preview is live: it follows what is typed (debounced).
  var previewTimer = null;
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    var button = form && form.querySelector("[data-live-preview]");
    var preview = document.getElementById("compose-preview");
    if (!button || !preview || !preview.children.length || !window.htmx) return;
    clearTimeout(previewTimer);
    previewTimer = setTimeout(function () { htmx.trigger(button, "click"); }, 700);
  });
})();
