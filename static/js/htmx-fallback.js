// The local copy of htmx when the CDN's did not load (offline, blocked, or the CDN off): written
// in place, so it runs before app.js as the CDN's would have. A file rather than an inline
// script: pages then carry no per-response nonce and can be kept whole (webapp/page_cache.py).
if (!window.htmx) {
  document.write('<script src="' + document.currentScript.dataset.src + '"><\/script>');
}
