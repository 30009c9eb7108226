// Recusal forms: show only the chosen organ's pack — who may apply, the listed grounds or
// the described one, and the note on which rules apply (a national fallback included).
// The pack comes from the chosen organ option (data-pack, data-grounds) or, on staff
// pages with a fixed organ, from the form itself. The server checks everything again.
(function () {
  "use strict";
  var form = document.querySelector("form[data-recusal]");
  if (!form) return;
  var organ = document.getElementById("organ_id");
  var role = document.getElementById("applicant_role");
  var ground = document.getElementById("ground_code");
  var groundText = document.getElementById("ground_text");
  var notes = document.querySelectorAll(".pack-note[data-pack]");

  function box(el) {
    while (el && !(el.classList && el.classList.contains("field"))) el = el.parentNode;
    return el;
  }
  function chosen() {
    var source = form;
    if (organ) source = organ.options[organ.selectedIndex];
    var pack = source ? source.getAttribute("data-pack") : null;
    return pack ? { pack: pack, grounds: source.getAttribute("data-grounds") } : null;
  }
  function filter(select, pack) {
    if (!select) return;
    var groups = select.querySelectorAll("optgroup");
    for (var i = 0; i < groups.length; i++) {
      var show = !pack || groups[i].label === pack;
      groups[i].hidden = !show;
      groups[i].disabled = !show;
    }
    var option = select.options[select.selectedIndex];
    if (option && option.parentNode.disabled) select.selectedIndex = 0;
  }
  function update() {
    var c = chosen();
    filter(role, c && c.pack);
    filter(ground, c && c.pack);
    var listBox = box(ground), textBox = box(groundText);
    if (listBox) listBox.hidden = !!c && c.grounds !== "list";
    if (textBox) textBox.hidden = !!c && c.grounds !== "text";
    for (var i = 0; i < notes.length; i++) {
      notes[i].hidden = !c || notes[i].getAttribute("data-pack") !== c.pack;
    }
  }
  if (organ) organ.addEventListener("change", update);
  update();
})();
