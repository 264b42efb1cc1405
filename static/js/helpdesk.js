// Helpdesk: a form that waits on the server (a reply drafted by the language model) says so
// and cannot be sent twice.
(function () {
  "use strict";
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector('button[type="submit"]');
      var status = form.querySelector("[data-busy-status]");
      if (button) { button.disabled = true; button.setAttribute("aria-disabled", "true"); }
      if (status) { status.textContent = form.dataset.busy; }
    });
  });
})();
