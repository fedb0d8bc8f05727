/* Kiosk: after a while without a touch or a key, return to a fresh form (in Vietnamese) for
   the next citizen. Settings come from the script tag: data-reset-url, data-idle-ms. */
(function () {
  var script = document.currentScript;
  var url = script.dataset.resetUrl;
  var idle = Number(script.dataset.idleMs);
  var timer;
  function reset() {
    clearTimeout(timer);
    timer = setTimeout(function () { location.replace(url); }, idle);
  }
  ["pointerdown", "keydown", "input", "scroll", "touchstart"].forEach(function (name) {
    addEventListener(name, reset, { passive: true });
  });
  reset();
})();
