/* flask-wink browser side: mint a Link token, open Smile's Wink widget, record every callback. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("wink-config").textContent);
  var queue = Promise.resolve();
  var listeners = [];
  var modal = null;
  var renewals = 0;
  var MAX_RENEWALS = 3;

  function status(text) {
    var el = document.getElementById("wink-status");
    if (el) el.textContent = text;
  }

  function headers() {
    var h = { "Content-Type": "application/json" };
    h[config.csrfHeader] = config.csrfToken;
    return h;
  }

  // Callbacks are posted one after another so the server records them in the order they fired.
  function record(name, args) {
    var body = JSON.stringify({ name: name, args: args === undefined ? {} : args });
    queue = queue.then(function () {
      return fetch(config.callbacksUrl, {
        method: "POST", headers: headers(), body: body, credentials: "same-origin", keepalive: true
      }).catch(function () { /* the widget must go on even if a record fails */ });
    });
    listeners.forEach(function (fn) { try { fn(name, args); } catch (e) { console.error(e); } });
    return queue;
  }

  function mintToken() {
    return fetch(config.tokenUrl, { method: "POST", headers: headers(), credentials: "same-origin" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) throw new Error(body.message || ("HTTP " + response.status));
          return body;
        });
      });
  }

  function open() {
    status("Opening the widget…");
    return mintToken().then(function (token) {
      var options = { userToken: token.accessToken };
      if (config.templateId) options.templateId = config.templateId;
      config.callbacks.forEach(function (name) {
        options[name] = function (args) { record(name, args); };
      });
      options.onTokenExpired = function () {
        record("onTokenExpired", {});
        if (renewals >= MAX_RENEWALS) { status("The link token keeps expiring; try again later."); return; }
        renewals += 1;
        open();
      };
      options.onAccountConnected = function (args) { renewals = 0; record("onAccountConnected", args); };
      modal = new window.SmileLinkModal(options);
      modal.open();
      status("");
    }).catch(function (error) {
      status("Could not open the widget: " + error.message);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-wink-open]");
    if (button) { event.preventDefault(); renewals = 0; open(); }
  });

  window.FlaskWink = {
    open: open,
    record: record,
    /** Call fn(name, args) for every widget callback, after it is queued for the server. */
    onCallback: function (fn) { listeners.push(fn); },
    config: config
  };
})();
