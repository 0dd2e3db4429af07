// Served from our own origin: the Content-Security-Policy forbids inline scripts.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // A case's requirement on a choice (issue 12): warn as soon as a value that cannot meet it is chosen.
  // The server warns again on saving and refuses at submission; this only says it earlier.
  document.querySelectorAll("select[data-needed]").forEach(function (select) {
    var needed = JSON.parse(select.getAttribute("data-needed"));
    var warning = document.getElementById("live-warning-" + select.name);
    if (!warning) { return; }
    var check = function () { warning.hidden = select.value === "" || needed.indexOf(select.value) !== -1; };
    select.addEventListener("change", check);
  });
  // A job's page (issue 16): poll its status, move the progress bar, and reload once it has finished
  // (without JavaScript the page refreshes itself instead).
  var job = document.querySelector("[data-job-status]");
  if (job && job.getAttribute("data-status") !== "succeeded" && job.getAttribute("data-status") !== "failed") {
    var poll = function () {
      fetch(job.getAttribute("data-job-status"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.json(); })
        .then(function (state) {
          if (state.finished) { window.location.reload(); return; }
          var bar = document.getElementById("job-progress");
          if (bar) { bar.max = state.progress.total || 1; bar.value = state.progress.done; }
          var count = document.getElementById("job-count");
          if (count) { count.textContent = state.progress.total ? state.progress.done + " / " + state.progress.total : ""; }
          var phase = document.getElementById("job-phase");
          if (phase && state.phase_text) { phase.textContent = state.phase_text; }
          var status = document.getElementById("job-status");
          if (status && state.status_text) { status.textContent = state.status_text; }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 500);
  }
});
