/* flask-wink browser side: mint a Link token, open Smile's Wink widget, record every callback. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("wink-config").textContent);
  var queue = Promise.resolve();
  var listeners = [];
  var modal = null;
  var renewals = 0;
  var MAX_RENEWALS = 3;

  // What the page's #wink-status says, with its tone (data-tone: progress, ok, error) so that a
  // page can show success as plainly as progress and errors.
  function status(text, tone) {
    var el = document.getElementById("wink-status");
    if (!el) return;
    el.textContent = text;
    if (text && tone) el.setAttribute("data-tone", tone);
    else el.removeAttribute("data-tone");
  }

  // The callbacks that change what the page says.
  function announce(name, args) {
    args = args || {};
    if (name === "onAccountConnected") status("Account connected.", "ok");
    else if (name === "onAccountError") {
      status("The account could not be linked" + (args.errorCode ? " (" + args.errorCode + ")" : "") +
             ". You can try again in the widget.", "error");
    } else if (name === "onUploadsCreated") status("Document uploaded; it is being analysed.", "ok");
    else if (name === "onAccountRemoved") status("Account disconnected.", "ok");
  }

  function headers() {
    var h = { "Content-Type": "application/json" };
    h[config.csrfHeader] = config.csrfToken;
    return h;
  }

  function isCsrfFailure(response, body) {
    return response.status === 400 && /CSRF/.test((body && body.message) || "");
  }

  // A page left open past the CSRF token's lifetime: fetch a fresh token (once per failure).
  function refreshCsrf() {
    return fetch(config.csrfUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (body) { config.csrfToken = body.csrfToken; });
  }

  // POST with the page's CSRF token; when the server says the token failed, refresh it and send
  // the same request once more. Resolves with {response, body}.
  function post(url, body, keepalive) {
    function send() {
      return fetch(url, {
        method: "POST", headers: headers(), body: body, credentials: "same-origin", keepalive: !!keepalive
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          return { response: response, body: json };
        });
      });
    }
    return send().then(function (first) {
      if (!isCsrfFailure(first.response, first.body)) return first;
      return refreshCsrf().then(send);
    });
  }

  // Callbacks are posted one after another so the server records them in the order they fired.
  // The widget goes on whatever happens; a callback that could not be recorded is reported in the
  // console, never dropped silently.
  function record(name, args) {
    var body = JSON.stringify({ name: name, args: args === undefined ? {} : args });
    queue = queue.then(function () {
      return post(config.callbacksUrl, body, true).then(function (answer) {
        if (!answer.response.ok) {
          console.error("flask-wink: the callback " + name + " was not recorded: " +
                        (answer.body.message || ("HTTP " + answer.response.status)));
        }
      }).catch(function (error) {
        console.error("flask-wink: the callback " + name + " was not recorded: " + error.message);
      });
    });
    announce(name, args);
    listeners.forEach(function (fn) { try { fn(name, args); } catch (e) { console.error(e); } });
    return queue;
  }

  function mintToken() {
    return post(config.tokenUrl, undefined, false).then(function (answer) {
      if (!answer.response.ok) throw new Error(answer.body.message || ("HTTP " + answer.response.status));
      return answer.body;
    });
  }

  function open() {
    status("Opening the widget…", "progress");
    return mintToken().then(function (token) {
      var options = { userToken: token.accessToken };
      if (config.templateId) options.templateId = config.templateId;
      config.callbacks.forEach(function (name) {
        options[name] = function (args) { record(name, args); };
      });
      options.onTokenExpired = function () {
        record("onTokenExpired", {});
        if (renewals >= MAX_RENEWALS) { status("The link token keeps expiring; try again later.", "error"); return; }
        renewals += 1;
        open();
      };
      options.onAccountConnected = function (args) { renewals = 0; record("onAccountConnected", args); };
      modal = new window.SmileLinkModal(options);
      modal.open();
      status("");
    }).catch(function (error) {
      status("Could not open the widget: " + error.message, "error");
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
