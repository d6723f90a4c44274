// The print-room page's script. Without it the page still works (every
// button is a form; reload to see changes). With it:
//  - the live part follows the station's event stream, keeping keyboard
//    focus where it was and announcing changes through an aria-live region;
//  - a lost station shows at once: the stream's heartbeat stops (or the
//    stream fails), a banner says so, every button is disabled, and the
//    page reconnects by itself;
//  - the shift report's Print button prints.
(function () {
  "use strict";
  var body = document.body;
  var banner = document.getElementById("conn");
  var live = document.getElementById("live");
  var announce = document.getElementById("announce");

  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target.closest("[data-print]") : null;
    if (t) { window.print(); }
  });

  if (!window.EventSource || !body.hasAttribute("data-beat")) { return; }
  var beatMS = parseInt(body.getAttribute("data-beat"), 10) || 2000;
  var lastBeat = Date.now();
  var offline = false;
  var es = null;

  function controls() {
    return document.querySelectorAll("form[method=post] button, form[method=post] input, form[method=post] select");
  }
  function setOffline(on) {
    if (on === offline) { return; }
    offline = on;
    body.classList.toggle("offline", on);
    if (banner) { banner.hidden = !on; }
    var cs = controls();
    for (var i = 0; i < cs.length; i++) {
      if (on) { cs[i].setAttribute("data-was-disabled", cs[i].disabled ? "1" : ""); cs[i].disabled = true; }
      else if (cs[i].getAttribute("data-was-disabled") !== "1") { cs[i].disabled = false; }
    }
  }

  // Focus survives the live part's replacement: the same control by id,
  // else another control of the same batch/job/printer (Start became
  // Pause), else the live region's heading it was under.
  function focusKey() {
    var a = document.activeElement;
    if (!a || !live || !live.contains(a)) { return null; }
    var sec = a.closest("section");
    return { id: a.id, group: a.getAttribute("data-group"), section: sec ? sec.id : null };
  }
  function restoreFocus(k) {
    if (!k) { return; }
    var el = k.id ? document.getElementById(k.id) : null;
    if (!el && k.group) { el = live.querySelector('[data-group="' + k.group + '"]'); }
    if (!el && k.section) {
      var h = document.querySelector("#" + k.section + " h2");
      if (h) { h.setAttribute("tabindex", "-1"); el = h; }
    }
    if (el) { el.focus({ preventScroll: true }); }
  }

  var busy = false, again = false;
  function reload() {
    if (!live) { return; }
    if (busy) { again = true; return; }
    busy = true;
    fetch("/live", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null || html === undefined) { return; }
        var before = document.getElementById("summary");
        var oldSummary = before ? before.textContent : "";
        var k = focusKey();
        live.innerHTML = html;
        restoreFocus(k);
        if (offline) { setOffline(false); }
        var after = document.getElementById("summary");
        if (announce && after && after.textContent !== oldSummary) { announce.textContent = after.textContent; }
      })
      .catch(function () {})
      .finally(function () {
        busy = false;
        if (again) { again = false; reload(); }
      });
  }

  function connect() {
    if (es) { es.close(); }
    es = new EventSource("/events");
    es.addEventListener("open", function () { lastBeat = Date.now(); });
    es.addEventListener("beat", function (e) {
      lastBeat = Date.now();
      var ms = parseInt(e.data, 10);
      if (ms > 0) { beatMS = ms; }
      if (offline) { setOffline(false); reload(); }
    });
    es.addEventListener("change", function () { lastBeat = Date.now(); reload(); });
    es.addEventListener("error", function () {
      setOffline(true);
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (the station answered with an error, e.g.
        // after a restart that ended the session): a page whose session
        // is gone goes back to the sign-in form; else try again ourselves.
        fetch("/live", { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { if (r.status === 401) { window.location.reload(); } })
          .catch(function () {});
        setTimeout(connect, 2000);
      }
    });
  }
  // No heartbeat for three beats: the station is gone even if the
  // connection has not failed yet (a hung daemon, a pulled cable).
  setInterval(function () {
    if (Date.now() - lastBeat > 3 * beatMS) {
      setOffline(true);
      lastBeat = Date.now();
      connect();
    }
  }, 500);
  connect();
})();
