// Keeps the live part of the page current: each event from the station
// reloads it from the server. Without JavaScript the page still works by
// refreshing it.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var busy = false, again = false;
  function reload() {
    if (busy) { again = true; return; }
    busy = true;
    fetch("/live", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html !== null && html !== undefined) { live.innerHTML = html; } })
      .catch(function () {})
      .finally(function () {
        busy = false;
        if (again) { again = false; reload(); }
      });
  }
  var es = new EventSource("/events");
  es.addEventListener("change", reload);
  es.addEventListener("open", reload);
})();
