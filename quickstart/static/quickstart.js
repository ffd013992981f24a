/* The quickstart pages' own script (loaded by base.html; no inline handlers, so it passes the CSP):
   - forms with data-confirm ask in a <dialog> before they are sent (Revoke, Delete, Disable);
   - buttons with data-copy copy a long id;
   - forms with data-autosubmit apply as soon as a field changes (the timeline's filters);
   - an element with data-live-url is kept up to date by polling it with its ETag (see below). */
(function () {
  "use strict";

  // -- destructive buttons ask first -----------------------------------------------------------
  var dialog = document.getElementById("confirm-dialog");
  var pending = null;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset || !form.dataset.confirm || form.dataset.confirmed === "yes") return;
    event.preventDefault();
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(form.dataset.confirm)) { form.dataset.confirmed = "yes"; form.submit(); }
      return;
    }
    pending = form;
    document.getElementById("confirm-text").textContent = form.dataset.confirm;
    document.getElementById("confirm-ok").textContent = form.dataset.confirmButton || "Confirm";
    dialog.returnValue = "";
    dialog.showModal();
  });
  if (dialog) {
    dialog.addEventListener("close", function () {
      var form = pending;
      pending = null;
      if (form && dialog.returnValue === "confirm") { form.dataset.confirmed = "yes"; form.submit(); }
    });
  }

  // -- a wide table says that it scrolls ---------------------------------------------------------
  // A table wider than its box (on a phone) gets data-scrolls and a hint above it.
  function markScrolling() {
    Array.prototype.forEach.call(document.querySelectorAll(".table-wrap"), function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      var hint = wrap.previousElementSibling;
      var hinted = Boolean(hint && hint.classList.contains("scroll-hint"));
      wrap.toggleAttribute("data-scrolls", scrolls);
      if (scrolls && !hinted) {
        hint = document.createElement("p");
        hint.className = "scroll-hint";
        hint.setAttribute("aria-hidden", "true");
        hint.textContent = "Scroll sideways for more columns →";
        wrap.parentNode.insertBefore(hint, wrap);
      } else if (!scrolls && hinted) {
        hint.remove();
      }
    });
  }
  markScrolling();
  window.addEventListener("resize", markScrolling);
  document.addEventListener("quickstart:changed", function () { setTimeout(markScrolling, 0); });

  // -- copy a long id ---------------------------------------------------------------------------
  function copied(button) {
    var was = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = was; }, 1500);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var text = button.dataset.copy;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, function () {});
      return;
    }
    var area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); copied(button); } catch (e) { /* nothing to do */ }
    area.remove();
  });

  // -- filters apply on change ------------------------------------------------------------------
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-autosubmit")) form.requestSubmit();
  });

  // -- live updates -----------------------------------------------------------------------------
  // Polling with the page's ETag, not Server-Sent Events: waitress serves the quickstart with a
  // fixed pool of threads (8), and an event stream holds one for as long as a tab is open, so a
  // few tabs would leave none for the webhooks. A poll is one short request: while nothing
  // changed the server answers 304 with no body, and a hidden tab does not poll at all.
  var live = document.querySelector("[data-live-url]");
  if (!live) return;
  var url = live.dataset.liveUrl;
  var etag = live.dataset.etag || "";
  var INTERVAL = 700, MAX_BACKOFF = 10000;
  var delay = INTERVAL, timer = null;

  function openDetails(root) {
    var open = {};
    root.querySelectorAll("details[open][data-key]").forEach(function (d) { open[d.dataset.key] = true; });
    return open;
  }
  function replace(id, html) {
    var root = document.getElementById(id);
    if (!root || typeof html !== "string") return;
    var open = openDetails(root);
    root.innerHTML = html;
    root.querySelectorAll("details[data-key]").forEach(function (d) { if (open[d.dataset.key]) d.open = true; });
  }
  function schedule(ms) {
    clearTimeout(timer);
    timer = document.hidden ? null : setTimeout(poll, ms);
  }
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "If-None-Match": etag } })
      .then(function (response) {
        if (response.status === 304) return null;
        if (!response.ok) throw new Error("HTTP " + response.status);
        etag = response.headers.get("ETag") || "";
        return response.json();
      })
      .then(function (body) {
        delay = INTERVAL;
        if (body) {
          Object.keys(body.parts || {}).forEach(function (id) { replace(id, body.parts[id]); });
          live.dataset.etag = etag;
          document.dispatchEvent(new CustomEvent("quickstart:changed", { detail: body }));
        }
      })
      .catch(function () { delay = Math.min(delay * 2, MAX_BACKOFF); })
      .then(function () { schedule(delay); });
  }
  document.addEventListener("visibilitychange", function () { if (!document.hidden) schedule(0); });
  schedule(INTERVAL);
})();
