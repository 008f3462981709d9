// Keeps the demo page live: a long poll to /demo/live answers when
// something changed, with the new HTML of each live part.
(function () {
  "use strict";
  var version = document.body.getAttribute("data-version") || "0";
  var inbox = document.getElementById("inbox");
  function scrollInbox() { if (inbox) { inbox.scrollTop = inbox.scrollHeight; } }
  scrollInbox();
  function apply(state) {
    version = String(state.v);
    var grew = false;
    Object.keys(state.parts).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && el.innerHTML !== state.parts[id]) {
        el.innerHTML = state.parts[id];
        if (id === "inbox") { grew = true; }
      }
    });
    if (grew) { scrollInbox(); }
    document.body.setAttribute("data-version", version);
  }
  function poll() {
    fetch("/demo/live?v=" + encodeURIComponent(version), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (state) { apply(state); poll(); })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
