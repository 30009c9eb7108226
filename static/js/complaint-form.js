// Show only the categories of the chosen organ's policy pack, and hide the name fields
// for anonymous complaints. The server validates both; this only helps on small screens.
(function () {
  "use strict";
  var organ = document.getElementById("organ_id");
  var category = document.getElementById("category_code");
  var anonymous = document.getElementById("anonymous");
  var identity = document.querySelector(".identity");
  function packOf() {
    var opt = organ && organ.options[organ.selectedIndex];
    return opt ? opt.getAttribute("data-pack") : null;
  }
  function filterCategories() {
    if (!organ || !category) return;
    var pack = packOf();
    var groups = category.querySelectorAll("optgroup");
    for (var i = 0; i < groups.length; i++) {
      var show = !pack || groups[i].label === pack;
      groups[i].hidden = !show;
      groups[i].disabled = !show;
    }
    var chosen = category.options[category.selectedIndex];
    if (chosen && chosen.parentNode.disabled) category.selectedIndex = -1;
  }
  function toggleIdentity() {
    if (identity && anonymous) identity.hidden = anonymous.checked;
  }
  if (organ) organ.addEventListener("change", filterCategories);
  if (anonymous) anonymous.addEventListener("change", toggleIdentity);
  filterCategories();
  toggleIdentity();
})();
