// mailhost panel: small progressive enhancements; every page works without them.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Copy buttons next to secrets shown once (generated passwords, tokens).
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    if (!navigator.clipboard) return;
    b.hidden = false;
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      navigator.clipboard.writeText(el.textContent).then(function () { b.textContent = "Copied"; });
    });
  });
  // Relay next hop only matters for relay domains.
  var hop = document.getElementById("f-relay_to");
  var kinds = document.querySelectorAll("input[name=kind]");
  if (hop && kinds.length) {
    var sync = function () {
      var relay = document.getElementById("f-kind-relay").checked;
      hop.closest(".field").hidden = !relay && hop.value === "";
    };
    kinds.forEach(function (k) { k.addEventListener("change", sync); });
    sync();
  }
});
