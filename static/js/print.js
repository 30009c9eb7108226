(function () {
  "use strict";
  var button = document.getElementById("print-notice");
  if (button) button.addEventListener("click", function (ev) { ev.preventDefault(); window.print(); });
})();
