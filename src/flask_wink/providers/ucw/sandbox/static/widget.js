// The emulated Universal Connect Widget: search, credentials, a second factor, and UCW's
// postMessage events ({type, metadata}) sent to window.parent and window.opener with the
// targetOrigin the widget was started with.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("ucw-config").textContent);
  var root = document.getElementById("ucw");
  var step = null;
  var institution = config.institution;
  var member = null;
  // Without a targetOrigin (v1 only) the events go to the embedding page's origin.
  var target = config.targetOrigin || (document.referrer ? new URL(document.referrer).origin : "");

  function post(type, metadata) {
    var message = { type: type, metadata: metadata || {} };
    if (!target) return;
    if (window.parent && window.parent !== window) window.parent.postMessage(message, target);
    if (window.opener) window.opener.postMessage(message, target);
  }

  function api(method, path, body) {
    return fetch(config.api + path, {
      method: method,
      headers: { "Content-Type": "application/json", "X-UCW-Session": config.session },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) { return r.json(); });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "onclick") node.addEventListener("click", attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  function field(id, label, type) {
    return el("div", {}, [el("label", { "for": id, text: label }),
                          el("input", { id: id, name: id, type: type || "text", autocomplete: "off" })]);
  }

  function go(next) {
    if (step !== null) post("connect/stepChange", { previous: step, current: next });
    step = next;
    root.textContent = "";
    views[next]();
  }

  function statusMetadata(m) {
    return { ucpInstitutionId: m.ucpInstitutionId, aggregator: m.aggregator,
             connectionId: m.connectionId, aggregatorUserId: m.aggregatorUserId,
             connectionStatus: m.connectionStatus };
  }

  function outcome(m) {
    member = m;
    post("connect/memberStatusUpdate", statusMetadata(m));
    if (m.status === "CONNECTED") {
      post("connect/memberConnected", config.version === "v1"
        ? { aggregator: m.aggregator, member_guid: m.connectionId }
        : { ucpInstitutionId: m.ucpInstitutionId, aggregator: m.aggregator,
            connectionId: m.connectionId, aggregatorUserId: m.aggregatorUserId });
      go("connected");
    } else if (m.status === "CHALLENGED") {
      go("mfa");
    } else {
      post("connect/memberError", statusMetadata(m));
      go("error");
    }
  }

  var views = {
    search: function () {
      var results = el("ul", { id: "results" });
      var input = el("input", { type: "search", placeholder: "Search", "aria-label": "Search" });
      var timer = null;
      function run() {
        var query = input.value.trim();
        if (!query) { results.textContent = ""; return; }
        post("connect/institutionSearch", { query: query });
        api("GET", "/institutions?search=" + encodeURIComponent(query)).then(function (body) {
          results.textContent = "";
          body.institutions.forEach(function (i) {
            results.appendChild(el("li", {}, [el("button", {
              type: "button", "aria-label": "Add account with " + i.name, text: i.name,
              onclick: function () {
                institution = i;
                post("connect/selectedInstitution", { name: i.name, guid: i.guid, url: i.url, code: i.code });
                go("enterCreds");
              }
            })]));
          });
          if (!body.institutions.length) results.appendChild(el("li", { text: "No institutions found" }));
        });
      }
      input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 250); });
      input.addEventListener("keydown", function (e) { if (e.key === "Enter") { clearTimeout(timer); run(); } });
      root.appendChild(el("h1", { text: "Select your institution" }));
      root.appendChild(input);
      root.appendChild(results);
      input.focus();
    },
    enterCreds: function () {
      var error = el("p", { role: "alert" });
      var form = el("form", {}, [field("username", "Username"), field("password", "Password", "password"),
                                 error, el("button", { type: "submit", text: "Continue" })]);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        post("connect/enterCredentials", {});
        var body = { institutionId: institution.guid, username: form.username.value,
                     password: form.password.value };
        go("connecting");
        api("POST", "/members", body).then(outcome);
      });
      root.appendChild(el("h1", { text: "Log in at " + institution.name }));
      root.appendChild(form);
      // Started for one institution (a refresh, or institutionId): no way back to search.
      if (!config.institution) {
        root.appendChild(el("button", { type: "button", "class": "secondary", text: "Back", onclick: function () {
          post("connect/backToSearch", {});
          go("search");
        } }));
      }
    },
    connecting: function () {
      root.appendChild(el("h1", { text: "Connecting to " + institution.name + "…" }));
    },
    mfa: function () {
      var form = el("form", {}, [field("mfa", "Verification code"),
                                 el("button", { type: "submit", text: "Continue" })]);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        post("connect/submitMFA", { member_guid: member.connectionId });
        var answer = form.mfa.value;
        go("connecting");
        api("POST", "/members/" + encodeURIComponent(member.connectionId) + "/mfa", { answer: answer })
          .then(outcome);
      });
      root.appendChild(el("h1", { text: institution.name + " needs a second factor" }));
      root.appendChild(el("p", { text: member.challenge ? member.challenge.prompt : "" }));
      root.appendChild(form);
    },
    error: function () {
      root.appendChild(el("h1", { text: "Something went wrong" }));
      root.appendChild(el("p", { role: "alert", text: (member && member.message) || "The connection failed." }));
      root.appendChild(el("button", { type: "button", text: "Try again", onclick: function () { go("enterCreds"); } }));
    },
    connected: function () {
      root.appendChild(el("h1", { text: "Connected to " + institution.name }));
      root.appendChild(el("p", { text: "Your accounts are connected." }));
      root.appendChild(el("button", { type: "button", text: "Done", onclick: function () {
        root.textContent = "";
        root.appendChild(el("p", { text: "You can close this window." }));
      } }));
      // The user may remove the connection just made: UCW deletes it and says connect/memberDeleted.
      root.appendChild(el("button", { type: "button", "class": "secondary", text: "Remove this connection",
        onclick: function () {
          api("DELETE", "/members/" + encodeURIComponent(member.connectionId)).then(function (body) {
            if (!body.deleted) return;
            post("connect/memberDeleted", config.version === "v1"
              ? { aggregator: member.aggregator, member_guid: member.connectionId }
              : { ucpInstitutionId: member.ucpInstitutionId, aggregator: member.aggregator,
                  connectionId: member.connectionId });
            go("deleted");
          });
        } }));
    },
    deleted: function () {
      root.appendChild(el("h1", { text: "Connection removed" }));
      root.appendChild(el("p", { text: institution.name + " is no longer connected." }));
    }
  };

  var first = institution ? "enterCreds" : "search";
  post("connect/loaded", { initial_step: first });
  go(first);
})();
