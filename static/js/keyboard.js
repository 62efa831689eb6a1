// Keyboard triage: j/k move, Enter/o open, e archive, u toggle unread, r reply, / search, ? help.
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
      case "u":
        if (!row) return;
        act(row, row.classList.contains("is-unread") ? "read" : "unread");
        break;
      case "r": {
        var replies = document.querySelectorAll("#message-pane [data-key=reply]");
        if (!replies.length) return;
        replies[replies.length - 1].click();
        break;
      }
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
