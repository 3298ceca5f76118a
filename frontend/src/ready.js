// Runs a callback once the DOM is parsed, even when the bundle itself is
// loaded late (async, or injected after DOMContentLoaded has fired).
export function onReady(callback) {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", callback);
  } else {
    callback();
  }
}
