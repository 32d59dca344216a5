// Stepup authenticator app: reload when requests change (server-sent
// events, no polling), and count down each request's expiry.
(function () {
  "use strict";
  var list = document.getElementById("requests");
  if (!list) return;
  if (window.EventSource) {
    var es = new EventSource(list.getAttribute("data-live"));
    es.addEventListener("changed", function () { es.close(); location.replace("/app"); });
    // The user's own decision changes the list too: let its result page
    // load instead of reloading over it.
    document.addEventListener("submit", function () { es.close(); }, true);
  }
  setInterval(function () {
    document.querySelectorAll("[data-expires-in]").forEach(function (el) {
      var left = Math.max(0, parseInt(el.getAttribute("data-expires-in"), 10) - 1);
      el.setAttribute("data-expires-in", left);
      el.querySelector(".countdown").textContent = left;
      if (left === 0) el.closest(".request").classList.add("expired");
    });
  }, 1000);
})();
