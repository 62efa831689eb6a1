// The settings page's signature: plain (the textarea) or formatted (a small editor: bold, italic,
// links). The editor's HTML rides in the hidden signature_html field; the server cleans it.
(function () {
  "use strict";
  var field = document.querySelector("[data-signature]");
  if (!field) return;
  var form = field.closest("form");
  var editor = document.getElementById("signature-editor");
  var area = document.getElementById("signature");
  var hidden = document.getElementById("signature_html");
  var wrap = field.querySelector(".signature-editor");
  field.querySelector(".signature-mode").hidden = false;

  function isRich() {
    var checked = field.querySelector("input[name=signature_format]:checked");
    return checked && checked.value === "html";
  }
  function sync() { hidden.value = editor.innerHTML; }
  function show() {
    var rich = isRich();
    wrap.hidden = !rich;
    area.hidden = rich;
  }

  field.addEventListener("change", function (event) {
    if (event.target.name !== "signature_format") return;
    // Switching keeps the words: plain text into the editor, the editor's text into the textarea.
    if (isRich()) {
      if (!editor.textContent.trim()) editor.innerText = area.value;
    } else {
      area.value = editor.innerText.replace(/\n{3,}/g, "\n\n").trim();
    }
    show();
    sync();
    (isRich() ? editor : area).focus();
  });
  editor.addEventListener("input", sync);
  form.addEventListener("submit", sync);

  var toolbar = field.querySelector(".signature-toolbar");
  // The editor keeps its selection while a toolbar button is pressed.
  toolbar.addEventListener("mousedown", function (event) {
    if (event.target.closest("button")) event.preventDefault();
  });
  toolbar.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-command]");
    if (!button) return;
    var command = button.dataset.command, value = null;
    if (command === "createLink") {
      value = (window.prompt(button.dataset.prompt, "https://") || "").trim();
      if (!value || value === "https://") return;
      if (!/^(https?:|mailto:)/i.test(value)) value = (value.indexOf("@") > 0 ? "mailto:" : "https://") + value;
    }
    editor.focus();
    document.execCommand(command, false, value);
    sync();
  });
  show();
  sync();
})();
