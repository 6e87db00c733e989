// Godwit dashboard: the page works without this script; it refreshes the
// live parts of the page and sends the actions with the token as a header.
(function () {
  "use strict";
  var body = document.body;
  var every = parseInt(body.getAttribute("data-refresh"), 10) || 5;
  var state = document.getElementById("refresh-state");

  // refresh fetches this page again and swaps each [data-live] part that
  // the reader is not using (focus inside it), keeping typed values.
  // One refresh at a time: a run whose worker does not answer takes the
  // status query's timeout to read, longer than the refresh interval.
  var busy = false;
  function refresh() {
    if (busy) { return Promise.resolve(); }
    busy = true;
    return fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        // Another kind of page (a run whose worker stopped or came back
        // answering): its parts differ, so load it whole.
        if (doc.body.getAttribute("data-page") !== body.getAttribute("data-page")) {
          location.reload();
          return;
        }
        document.querySelectorAll("[data-live]").forEach(function (old) {
          var fresh = doc.getElementById(old.id);
          if (!fresh || old.contains(document.activeElement)) { return; }
          old.querySelectorAll("[data-keep]").forEach(function (input) {
            var twin = fresh.querySelector("#" + input.id);
            if (twin) { twin.value = input.value; }
          });
          old.replaceWith(fresh);
        });
        if (state) { state.textContent = "Updated " + new Date().toLocaleTimeString(); }
      })
      .catch(function (e) {
        if (state) { state.textContent = "Refresh failed: " + e.message; }
      })
      .finally(function () { busy = false; });
  }
  setInterval(refresh, every * 1000);

  function field(form, name) {
    var el = form.querySelector("[name=" + name + "]");
    return el ? el.value : "";
  }

  // act posts one action of the migration the page shows.
  function act(action, form) {
    var section = document.getElementById("actions");
    var out = document.getElementById("action-result");
    var token = document.getElementById("token");
    var payload = { gate: action === "approve" ? field(form, "gate") : "", by: field(form, "by"), reason: field(form, "reason") };
    if (action === "rollback" && !payload.reason) {
      out.textContent = "A rollback needs a reason: fill in Reason first.";
      return;
    }
    var name = section.getAttribute("data-migration");
    fetch("/api/migrations/" + encodeURIComponent(name) + "/" + action, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + (token ? token.value : "") },
      body: JSON.stringify(payload)
    }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, status: r.status, body: j }; });
    }).then(function (res) {
      out.textContent = res.ok ? res.body.message : "Refused (" + res.status + "): " + res.body.error;
      out.className = res.ok ? "ok" : "error";
      return refresh();
    }).catch(function (e) {
      out.textContent = "The action was not sent: " + e.message;
      out.className = "error";
    });
  }

  // One listener on the document: the actions section is replaced on
  // every refresh.
  document.addEventListener("submit", function (e) {
    var form = e.target.closest("form.action");
    if (!form) { return; }
    e.preventDefault();
    act("approve", form);
  });
  document.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-action]");
    if (!button || button.disabled) { return; }
    act(button.getAttribute("data-action"), button.form);
  });
})();
