/* Widget de l'assistant citoyen : <script src="{{ base_url }}/widget.js" data-assistant="IDENTIFIANT" defer></script> */
(function () {
  "use strict";
  var script = document.currentScript;
  var slug = script && script.getAttribute("data-assistant");
  if (!slug) { return; }
  var label = script.getAttribute("data-label") || "Une question ? Demandez à l'assistant";
  var button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  button.style.cssText = "position:fixed;right:1rem;bottom:1rem;z-index:2147483000;padding:.75rem 1rem;border:0;border-radius:2rem;background:#1f4e8c;color:#fff;font:600 1rem/1.2 system-ui,sans-serif;cursor:pointer;box-shadow:0 2px 8px rgba(0,0,0,.3)";
  var frame = document.createElement("iframe");
  frame.title = "Assistant de la ville";
  frame.src = "{{ base_url }}/widget/" + encodeURIComponent(slug) + "/";
  frame.hidden = true;
  frame.style.cssText = "position:fixed;right:1rem;bottom:4.5rem;z-index:2147483000;width:min(26rem,calc(100vw - 2rem));height:min(36rem,calc(100vh - 6rem));border:1px solid #ccc;border-radius:.5rem;background:#fff;box-shadow:0 4px 16px rgba(0,0,0,.3)";
  button.addEventListener("click", function () {
    frame.hidden = !frame.hidden;
    button.setAttribute("aria-expanded", String(!frame.hidden));
    if (!frame.hidden) { frame.focus(); }
  });
  document.body.appendChild(frame);
  document.body.appendChild(button);
})();
