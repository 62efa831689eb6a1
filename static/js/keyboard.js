// Keyboard triage: j/k move, Enter/o open, e archive, u toggle unread (the cursor stays),
// r reply (the cursor lands in the message body), / search, ? help.
(function () {
  "use strict";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#message-list .row"));
  }

  function current() {
    return document.querySelector("#message-list .row.is-cursor") ||
      document.querySelector("#message-list .row.is-selected");
  }

  function moveTo(row) {
    if (!row) return;
    rows().forEach(function (r) { r.classList.remove("is-cursor"); });
    row.classList.add("is-cursor");
    var link = row.querySelector(".row-link");
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function step(delta) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(current());
    moveTo(all[Math.min(all.length - 1, Math.max(0, index + delta))] || all[0]);
  }

  function csrfHeaders() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    } catch (e) {
      return {};
    }
  }

  function act(row, action) {
    var list = document.getElementById("message-list");
    if (!row || !list || !window.htmx) return;
    var url = "/mail/" + list.dataset.folder + "/" + row.dataset.thread + "/" + action;
    var pane = document.getElementById("message-pane");
    if (pane && pane.dataset.thread === row.dataset.thread && action !== "read") url += "?close=1";
    // swap "none": only the out-of-band parts land (row, counts, pane), the list stays.
    return htmx.ajax("POST", url, { target: "#message-list", swap: "none", headers: csrfHeaders() });
  }

  // The answer swaps the row out of band, and htmx settles the new row's classes after the swap:
  // once that copy has settled, the cursor (and the focus) go back on it.
  function keepCursorOn(thread) {
    var id = "thread-row-" + thread;
    function settled(event) {
      if (!event.detail.elt || event.detail.elt.id !== id) return;
      document.removeEventListener("htmx:afterSettle", settled);
      var row = document.getElementById(id);
      if (row) moveTo(row);
    }
    document.addEventListener("htmx:afterSettle", settled);
    setTimeout(function () { document.removeEventListener("htmx:afterSettle", settled); }, 10000);
  }

  // `r`: once the composer has landed, the cursor waits at the top of the message body, above
  // the signature and the quote, ready to type.
  function focusBodyOnceOpen() {
    function settled() {
      var body = document.querySelector("#compose-form textarea[name=body], #message-pane textarea[name=body]");
      if (!body) return;
      document.removeEventListener("htmx:afterSettle", settled);
      body.focus();
      body.setSelectionRange(0, 0);
      body.scrollTop = 0;
    }
    document.addEventListener("htmx:afterSettle", settled);
  }

  // A conversation still loading (Enter was just pressed) replaces the pane when it lands, so
  // `r` meanwhile waits for it: the reply answers the conversation the recruiter opened, and no
  // reply form is swapped in only to be swapped out again. Waiting lasts until the swap has
  // settled, because htmx wires the new pane's buttons only then: a click before does nothing.
  var paneRequest = null;
  var paneSettling = false;
  var replyWhenLoaded = false;

  function paneLoading() {
    var inFlight = paneRequest !== null && paneRequest.readyState > 0 && paneRequest.readyState < 4;
    return inFlight || paneSettling;
  }

  function reply() {
    var replies = document.querySelectorAll("#message-pane [data-key=reply]");
    if (!replies.length) return false;
    focusBodyOnceOpen();
    replies[replies.length - 1].click();
    return true;
  }

  function aimsAtPane(event) {
    return event.detail.target && event.detail.target.id === "message-pane";
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (aimsAtPane(event)) paneRequest = event.detail.xhr;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    // A conversation that failed to load leaves the old pane: no reply is sent off blind.
    if (event.detail.xhr === paneRequest && !event.detail.successful) replyWhenLoaded = false;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (aimsAtPane(event)) paneSettling = true;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!aimsAtPane(event)) return;
    paneSettling = false;
    if (!replyWhenLoaded || paneLoading()) return;
    replyWhenLoaded = false;
    reply();
  });

  function typing(target) {
    return target.closest && target.closest("input, textarea, select, [contenteditable=true], dialog[open]");
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var help = document.getElementById("shortcuts");
    if (event.key === "Escape" && help && help.open) { help.close(); return; }
    if (typing(event.target)) return;
    var row = current();
    switch (event.key) {
      case "j": step(1); break;
      case "k": step(-1); break;
      case "Enter":
      case "o":
        if (row && event.target.closest && !event.target.closest("button, a:not(.row-link)")) {
          row.querySelector(".row-link").click();
        } else return;
        break;
      case "e": {
        if (!row) return;
        var next = row.nextElementSibling || row.previousElementSibling;
        act(row, "archive");
        if (next && next.classList.contains("row")) moveTo(next);
        break;
      }
      case "u": {
        if (!row) return;
        // The answer swaps the row out of band: put the cursor back on its new copy.
        keepCursorOn(row.dataset.thread);
        act(row, row.classList.contains("is-unread") ? "read" : "unread");
        break;
      }
      case "r":
        if (paneLoading()) replyWhenLoaded = true;
        else if (!reply()) return;
        break;
      case "/": {
        var search = document.querySelector("[data-search]");
        if (!search) return;
        search.focus();
        break;
      }
      case "?":
        if (help) help.open ? help.close() : help.showModal();
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  // After the list is swapped (another folder), start the cursor again from the top.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "message-list") {
      var first = document.querySelector("#message-list .row");
      if (first) first.classList.remove("is-cursor");
    }
  });
})();
