// Site-wide behaviour, loaded on every page (no inline script: the CSP forbids it).
// A form that has been submitted cannot be submitted again by a second tap while the
// first request is on its way: on a slow phone connection that would file twice.
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.getAttribute("data-submitted")) {
      ev.preventDefault();
      return;
    }
    form.setAttribute("data-submitted", "1");
    var buttons = form.querySelectorAll("button[type=submit], button:not([type])");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-busy", "true");
    }
  });
  // Coming back with the browser's back button must not leave forms locked.
  window.addEventListener("pageshow", function () {
    var forms = document.querySelectorAll("form[data-submitted]");
    for (var i = 0; i < forms.length; i++) forms[i].removeAttribute("data-submitted");
  });
})();
