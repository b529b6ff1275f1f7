// klaviyo-sync dashboard: small progressive enhancements. Every form also works without this
// script (it posts, and the answer is a page); with it, a retry or a resolve goes to /api/ and
// its result is shown in place.
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  function say(text, tone, lines) {
    var region = document.getElementById("retry-status");
    if (!region) return;
    region.className = "status" + (tone ? " " + tone : "");
    region.textContent = "";
    var p = document.createElement("p");
    p.textContent = text;
    region.appendChild(p);
    if (lines && lines.length) {
      var list = document.createElement("ul");
      lines.forEach(function (line) {
        var item = document.createElement("li");
        item.textContent = line;
        list.appendChild(item);
      });
      region.appendChild(list);
    }
  }

  function setState(id, state) {
    document.querySelectorAll('[data-state-of="' + id + '"]').forEach(function (el) {
      el.textContent = state;
      el.className = "state state-" + state;
    });
    if (state === "resolved") {
      var box = document.getElementById("select-" + id);
      if (box) { box.checked = false; box.disabled = true; }
      // Nothing left to do with it: the retry and resolve buttons go, as after a reload.
      var actions = document.querySelector('[data-actions-of="' + id + '"]');
      if (actions) actions.hidden = true;
    }
  }

  async function post(url, body) {
    var response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      var message = data && data.error ? data.error.message : "the server answered " + response.status;
      throw new Error(message);
    }
    return data;
  }

  function busy(form, on) {
    form.querySelectorAll("button").forEach(function (b) { b.disabled = on; });
  }

  document.querySelectorAll("form[data-retry]").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var body;
      if (data.get("all")) {
        body = { all: true, kind: data.get("kind") || null };
      } else {
        body = { ids: data.getAll("id").map(Number) };
        if (!body.ids.length) { say("Select at least one failure to retry.", "error"); return; }
      }
      busy(form, true);
      say("Retrying…");
      try {
        var report = await post("/api/failures/retry", body);
        var lines = report.results.map(function (r) {
          // The failure's own state (open, retrying, parked, resolved), not the retry's status.
          setState(r.failure_id, r.state);
          var line = "Failure " + r.failure_id + " (customer " + (r.customer_id || "—") + "): " +
            (r.status === "resolved" ? "resolved, " : "") + r.message;
          return r.note ? line + ". Note: " + r.note : line;
        });
        var summary = report.resolved + " resolved, " + report.failed + " failed again, " +
          report.not_retried + " not retried; " + report.remaining + " still open.";
        // Green only when everything asked for was sent and resolved.
        var tone = report.failed ? "error" : report.not_retried ? "warn" : "good";
        say(summary, tone, lines);
      } catch (err) {
        say("The retry did not run: " + err.message, "error");
      } finally {
        busy(form, false);
      }
    });
  });

  document.querySelectorAll("form[data-resolve]").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var id = form.getAttribute("data-resolve");
      var note = new FormData(form).get("note") || "resolved in the dashboard";
      busy(form, true);
      try {
        var failure = await post("/api/failures/" + id + "/resolve", { note: note });
        setState(id, failure.state);
        say("Failure " + id + " resolved: " + failure.resolution, "good");
      } catch (err) {
        say("The failure was not resolved: " + err.message, "error");
      } finally {
        busy(form, false);
      }
    });
  });

  // "Select every failure on this page" is only useful with a script, so it starts hidden.
  document.querySelectorAll("[data-select-all]").forEach(function (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      all.form.querySelectorAll('input[name="id"]:not([disabled])').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  });
})();
