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
});
