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

  // Sandboxed HTML bodies cannot run scripts, so the page sizes them to their content: the
  // body's height (not the document's, which is never less than the frame), again whenever it
  // changes (a "…" opened, an image loaded).
  function fitFrame(frame) {
    try {
      var body = frame.contentDocument && frame.contentDocument.body;
      if (!body) return;
      frame.style.height = Math.ceil(body.getBoundingClientRect().height) + 2 + "px";
      // Watch the body shown now: a folded message's "toggle" can size the frame while it still
      // holds the empty document that precedes its srcdoc, whose body is then replaced.
      if (frame._fitBody !== body && window.ResizeObserver) {
        if (frame._fitObserver) frame._fitObserver.disconnect();
        frame._fitObserver = new ResizeObserver(function () { fitFrame(frame); });
        frame._fitObserver.observe(body);
        frame._fitBody = body;
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

  // A folded message opened: its frame (lazy until now) may need sizing once it shows.
  document.addEventListener(
    "toggle",
    function (event) {
      if (!event.target.open) return;
      event.target.querySelectorAll("iframe.html-body").forEach(fitFrame);
    },
    true
  );
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-expand-all]");
    if (!button) return;
    document.querySelectorAll("#message-pane details.message-fold").forEach(function (d) { d.open = true; });
    button.hidden = true;
  });

  // Menu drawer (below 1024 px): the folders and the account menu; a folder click closes it.
  function setMenu(open) {
    document.body.classList.toggle("menu-open", open);
    document.querySelectorAll("[data-menu]").forEach(function (b) {
      b.setAttribute("aria-expanded", open ? "true" : "false");
    });
    if (open) {
      var first = document.querySelector("#folder-nav .folder-link.is-active") ||
        document.querySelector("#folder-nav a") || document.querySelector("#account-menu select");
      if (first) first.focus();
    }
  }
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest("[data-menu]")) {
      setMenu(!document.body.classList.contains("menu-open"));
    } else if (document.body.classList.contains("menu-open") &&
        (target.closest("#folder-nav a") || !target.closest("#folder-nav, #account-menu"))) {
      setMenu(false);
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.body.classList.contains("menu-open")) {
      setMenu(false);
      var button = document.querySelector("[data-menu]");
      if (button) button.focus();
    }
  });

  // The list's width: dragged (or arrow keys on the handle), remembered in localStorage.
  var WIDTH_KEY = "hiremail.listWidth";
  function setListWidth(px, keep) {
    var mailbox = document.querySelector(".mailbox");
    var handle = document.querySelector("[data-resizer]");
    if (!mailbox || !handle) return;
    var width = Math.round(Math.min(720, Math.max(280, px)));
    mailbox.style.setProperty("--list-width", width + "px");
    handle.setAttribute("aria-valuenow", String(width));
    if (keep) {
      try { localStorage.setItem(WIDTH_KEY, String(width)); } catch (e) { /* private mode */ }
    }
  }
  function listWidth() {
    var list = document.getElementById("message-list");
    return list ? list.getBoundingClientRect().width : 420;
  }
  try {
    var kept = parseInt(localStorage.getItem(WIDTH_KEY), 10);
    if (kept) setListWidth(kept, false);
  } catch (e) { /* private mode */ }
  document.addEventListener("pointerdown", function (event) {
    var handle = event.target.closest && event.target.closest("[data-resizer]");
    if (!handle) return;
    event.preventDefault();
    var startX = event.clientX, startWidth = listWidth();
    handle.classList.add("is-dragging");
    handle.setPointerCapture(event.pointerId);
    function move(e) { setListWidth(startWidth + e.clientX - startX, false); }
    function up(e) {
      handle.classList.remove("is-dragging");
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
      setListWidth(startWidth + e.clientX - startX, true);
    }
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
  });
  document.addEventListener("keydown", function (event) {
    if (!event.target.matches || !event.target.matches("[data-resizer]")) return;
    var delta = { ArrowLeft: -20, ArrowRight: 20 }[event.key];
    if (!delta) return;
    event.preventDefault();
    setListWidth(listWidth() + delta, true);
  });

  // The pane's mark-read (templates/mailbox/_thread.html) answers with the row, the list's unread
  // count and the folder counts. If the user moved on before it answered (another folder, another
  // conversation), only what still applies is swapped: the folder counts always, the row and the
  // list's count only while the same folder's list is shown, and no longer as the selected row.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt.id !== "mark-read" || elt.dataset.guarded) return;
    elt.dataset.guarded = "1";
    var list = document.getElementById("message-list");
    var folder = list && list.dataset.folder;
    // On the element itself: it may have left the page (the pane replaced) by the time it answers.
    elt.addEventListener("htmx:beforeSwap", function (swap) {
      var now = document.getElementById("message-list");
      var sameList = now && now.dataset.folder === folder;
      var pane = document.getElementById("message-pane");
      var stillOpen = pane && pane.dataset.thread === elt.dataset.thread;
      var parts = document.createElement("template");
      parts.innerHTML = swap.detail.serverResponse;
      parts.content.querySelectorAll("[hx-swap-oob]").forEach(function (part) {
        if (!document.getElementById(part.id) || (part.id !== "folder-nav" && !sameList)) {
          part.remove();
        } else if (part.classList.contains("row") && !stillOpen) {
          part.classList.remove("is-selected");
        }
      });
      swap.detail.serverResponse = parts.innerHTML;
    });
  });

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

// Feedback: a request that failed says so (and stays until dismissed; the page keeps its place
// and its fields), an action that worked says so briefly, with Undo when there is one.
(function () {
  "use strict";

  // gunicorn gives up on a request after 60 s: past that no answer will come.
  var REQUEST_TIMEOUT_MS = 65000;
  if (window.htmx) htmx.config.timeout = REQUEST_TIMEOUT_MS;

  function box() { return document.getElementById("feedback"); }

  function showError(text) {
    var alert = document.getElementById("feedback-alert");
    if (!alert) return;
    alert.querySelector(".feedback-text").textContent = text;
    alert.hidden = false;
  }

  function hideError() {
    var alert = document.getElementById("feedback-alert");
    if (alert) alert.hidden = true;
  }

  function errorText(status) {
    var data = box().dataset;
    if (status === 404) return data.goneError;
    if (status === 400 || status === 401 || status === 403) return data.sessionError;
    return data.serverError.replace("{status}", String(status));
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 422) return; // a form refused: it shows its own errors in place
    showError(errorText(status));
  });
  document.addEventListener("htmx:sendError", function () { showError(box().dataset.networkError); });
  document.addEventListener("htmx:timeout", function () { showError(box().dataset.timeoutError); });
  // A later action that worked clears it; a request the page makes by itself (the pane's
  // mark-read, answering late) does not hide an error the user has not read yet.
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (event.detail.successful && !(elt && elt.hasAttribute && elt.hasAttribute("data-background"))) hideError();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-dismiss-feedback]")) hideError();
  });

  var toastTimer = null;
  function hideToast() {
    var toast = document.getElementById("feedback-toast");
    if (toast) toast.hidden = true;
  }

  function csrfHeaders() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    } catch (e) {
      return {};
    }
  }

  // The undo request lands like the action did: on the open conversation's pane, or (from the
  // list) as out-of-band parts only.
  function undo(url, threadId) {
    var pane = document.getElementById("message-pane");
    var onPane = pane && threadId && pane.dataset.thread === String(threadId);
    hideToast();
    return htmx.ajax("POST", url, {
      target: onPane ? "#message-pane" : "#message-list",
      swap: onPane ? "outerHTML" : "none",
      headers: csrfHeaders()
    });
  }

  // The server names what it did in an HX-Trigger header: {"hm:toast": {"message", "undo", "thread"}}.
  document.addEventListener("hm:toast", function (event) {
    var detail = event.detail || {};
    var toast = document.getElementById("feedback-toast");
    if (!toast || !detail.message) return;
    toast.textContent = "";
    var text = document.createElement("span");
    text.textContent = detail.message;
    toast.appendChild(text);
    if (detail.undo && window.htmx) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button small link feedback-undo";
      button.textContent = box().dataset.undo;
      button.addEventListener("click", function () { undo(detail.undo, detail.thread); });
      toast.appendChild(button);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "button small link feedback-close";
    close.setAttribute("aria-label", box().dataset.dismiss);
    close.textContent = "×";
    close.addEventListener("click", hideToast);
    toast.appendChild(close);
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(hideToast, detail.undo ? 8000 : 4000);
  });
})();
