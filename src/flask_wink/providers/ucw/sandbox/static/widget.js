// The emulated Universal Connect Widget: search, credentials, the bank's second factor (one step
// after another), an account to pick, an OAuth bank's popup, and the Connect widget's postMessage
// events ({type, metadata}) sent to window.parent and window.opener with the widget's targetOrigin.
(function () {
  "use strict";
  var page = JSON.parse(document.getElementById("ucw-config").textContent);
  var root = document.getElementById("ucw");
  var config = null;
  var step = null;
  var institution = null;
  var member = null;
  var target = "";
  var lastStatus = null;

  // As UCW's widget: to window.parent whatever it is (itself when the widget is the top page, which
  // is how UCW's own tests spy on it), and to the opener of a popup.
  function post(type, metadata) {
    var message = { type: type, metadata: metadata || {} };
    if (!target) return;
    if (window.parent) window.parent.postMessage(message, target);
    if (window.opener) window.opener.postMessage(message, target);
  }

  function api(method, path, body) {
    return fetch(page.api + path, {
      method: method,
      headers: { "Content-Type": "application/json", "X-UCW-Session": config ? config.session : "" },
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

  function v1() { return config.version === "v1"; }

  // UCW's server hands the widget each member's event data; the widget adds the institution's id.
  function eventData(m, kind) {
    var data = (m.postMessageEventData && m.postMessageEventData[kind]) || {};
    var out = { ucpInstitutionId: m.ucpInstitutionId };
    Object.keys(data).forEach(function (k) { out[k] = data[k]; });
    return out;
  }

  function statusUpdate(m) {
    var data = eventData(m, "memberStatusUpdate");
    var key = JSON.stringify(data);
    if (key !== lastStatus) post("connect/memberStatusUpdate", data);  // sent when it changes
    lastStatus = key;
  }

  function outcome(m) {
    member = m;
    if (!m.status) {  // the API refused the call itself
      post("connect/createMemberError", { institution_guid: institution.guid, institution_code: institution.code });
      go("createError");
      return;
    }
    statusUpdate(m);
    if (m.status === "CONNECTED") {
      post("connect/memberConnected", v1()
        ? { ucpInstitutionId: m.ucpInstitutionId, aggregator: m.aggregator, member_guid: m.connectionId,
            user_guid: m.userGuid }
        : eventData(m, "memberConnected"));
      go("connected");
    } else if (m.status === "CHALLENGED") {
      go("mfa");
    } else if (m.status === "PENDING" && m.oauth_window_uri) {
      go("oauth");
    } else {
      post("connect/memberError", { member: { guid: m.connectionId, connection_status: m.connectionStatus } });
      go("error");
    }
  }

  function backButton() {
    // Started for one institution (a refresh, or institutionId): no way back to search.
    if (config.institution) return null;
    return el("button", { type: "button", "class": "secondary", text: "Back", onclick: function () {
      post("connect/backToSearch", {});
      go("search");
    } });
  }

  function pickInstitution(i) {
    institution = i;
    post("connect/selectedInstitution", { name: i.name, guid: i.guid, url: i.url, code: i.code });
    go(i.oauth ? "oauthStart" : "enterCreds");
  }

  var views = {
    search: function () {
      var count = el("p", { id: "count", "aria-live": "polite" });
      var results = el("ul", { id: "results" });
      var input = el("input", { type: "search", placeholder: "Search", "aria-label": "Search" });
      var timer = null;
      function run() {
        var query = input.value.trim();
        if (!query) { results.textContent = ""; count.textContent = ""; return; }
        post("connect/institutionSearch", { query: query });
        api("GET", "/institutions?search=" + encodeURIComponent(query)).then(function (body) {
          var found = body.institutions;
          results.textContent = "";
          count.textContent = found.length === 1 ? "1 search result" : found.length + " search results";
          found.forEach(function (i) {
            results.appendChild(el("li", {}, [el("button", {
              type: "button", "aria-label": "Add account with " + i.name, "data-testid": i.guid + "-row",
              text: i.name, onclick: function () { pickInstitution(i); }
            })]));
          });
        });
      }
      input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 250); });
      input.addEventListener("keydown", function (e) { if (e.key === "Enter") { clearTimeout(timer); run(); } });
      root.appendChild(el("h1", { text: "Select your institution" }));
      root.appendChild(input);
      root.appendChild(count);
      root.appendChild(results);
      input.focus();
    },
    enterCreds: function () {
      var error = el("p", { role: "alert" });
      var form = el("form", {}, [field("username", institution.loginLabel || "Username"),
                                 field("password", "Password", "password"),
                                 error, el("button", { type: "submit", text: "Continue" })]);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var who = { institution: { guid: institution.guid, code: institution.code } };
        if (config.refresh) {
          who.member_guid = config.connectionId;
          post("connect/updateCredentials", who);
        } else {
          post("connect/enterCredentials", who);
        }
        var body = { institutionId: institution.guid, username: form.username.value,
                     password: form.password.value };
        go("connecting");
        api("POST", "/members", body).then(outcome);
      });
      root.appendChild(el("h1", { text: "Enter your credentials" }));
      root.appendChild(el("p", { text: "Log in at " + institution.name }));
      root.appendChild(form);
      var back = backButton();
      if (back) root.appendChild(back);
    },
    oauthStart: function () {
      root.appendChild(el("h1", { text: "Log in at " + institution.name }));
      root.appendChild(el("p", { text: "You will be sent to " + institution.name + " to log in and share your accounts." }));
      root.appendChild(el("button", { type: "button", text: "Go to log in", onclick: function () {
        // The popup is opened in the click itself (a browser allows no other), then pointed at the bank.
        var popup = window.open("", "_blank");
        api("POST", "/members", { institutionId: institution.guid, oauth: true }).then(function (m) {
          member = m;
          post("connect/oauthRequested", { url: m.oauth_window_uri, member_guid: m.connectionId });
          if (popup) popup.location.href = m.oauth_window_uri;
          statusUpdate(m);
          go("oauth");
        });
      } }));
      var back = backButton();
      if (back) root.appendChild(back);
    },
    oauth: function () {
      root.appendChild(el("h1", { text: "Waiting for permission" }));
      root.appendChild(el("p", { text: "Finish logging in at " + institution.name + " in the window that opened." }));
      (function poll() {
        if (step !== "oauth") return;
        api("GET", "/members/" + encodeURIComponent(member.connectionId)).then(function (m) {
          if (step !== "oauth") return;
          if (m.status === "CONNECTED") outcome(m);
          else setTimeout(poll, 500);
        });
      })();
    },
    connecting: function () {
      root.appendChild(el("h1", { text: "Connecting to " + institution.name + "…" }));
    },
    mfa: function () {
      var challenge = member.challenge || { kind: "text", label: "", options: [] };
      var form = el("form", {}, []);
      if (challenge.kind === "options") {
        var group = el("fieldset", {}, [el("legend", { text: challenge.label })]);
        challenge.options.forEach(function (option, index) {
          var id = "option-" + index;
          group.appendChild(el("div", {}, [el("input", { type: "radio", id: id, name: "answer", value: option }),
                                           el("label", { "for": id, text: option })]));
        });
        form.appendChild(group);
      } else {
        form.appendChild(field("answer", challenge.label));
      }
      form.appendChild(el("button", { type: "submit", text: "Continue" }));
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var chosen = challenge.kind === "options" ? form.querySelector("input[name=answer]:checked") : form.answer;
        if (!chosen) return;
        post("connect/submitMFA", { member_guid: member.connectionId });
        var answer = chosen.value;
        go("connecting");
        api("POST", "/members/" + encodeURIComponent(member.connectionId) + "/mfa", { answer: answer })
          .then(outcome);
      });
      root.appendChild(el("h1", { text: institution.name }));
      root.appendChild(form);
    },
    error: function () {
      root.appendChild(el("h1", { text: "Something went wrong" }));
      root.appendChild(el("p", { role: "alert", text: (member && member.message) || "The connection failed." }));
      root.appendChild(el("button", { type: "button", text: "Try again", onclick: function () { go("enterCreds"); } }));
    },
    createError: function () {
      root.appendChild(el("h1", { text: "Something went wrong" }));
      root.appendChild(el("p", { role: "alert", text: (member && member.message) || "The connection could not be made." }));
    },
    connected: function () {
      root.appendChild(el("h1", { text: "Connected" }));
      root.appendChild(el("p", { text: "You have successfully connected to " + institution.name }));
      root.appendChild(el("button", { type: "button", text: "Done", onclick: function () {
        post("connect/connected/primaryAction", {});
        post("connect/backToSearch", {});
        root.textContent = "";
        root.appendChild(el("p", { text: "You can close this window." }));
      } }));
      // The user may remove the connection just made: UCW deletes it and says connect/memberDeleted.
      root.appendChild(el("button", { type: "button", "class": "secondary", text: "Remove this connection",
        onclick: function () {
          api("DELETE", "/members/" + encodeURIComponent(member.connectionId)).then(function (body) {
            if (!body.deleted) return;
            post("connect/memberDeleted", { member_guid: member.connectionId });
            go("deleted");
          });
        } }));
    },
    deleted: function () {
      root.appendChild(el("h1", { text: "Connection removed" }));
      root.appendChild(el("p", { text: institution.name + " is no longer connected." }));
    }
  };

  // The widget's first call uses the one-use token up (loading the page does not).
  fetch(page.api + "/instrumentation", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query: window.location.search.replace(/^\?/, "") })
  }).then(function (r) {
    return r.ok ? r.json() : r.text().then(function (text) { throw new Error(text); });
  }).then(function (body) {
    config = body;
    institution = config.institution;
    // Without a targetOrigin (v1 only) the events go to the embedding page's origin.
    target = config.targetOrigin || (document.referrer ? new URL(document.referrer).origin : "");
    var first = institution ? (institution.oauth ? "oauthStart" : "enterCreds") : "search";
    post("connect/loaded", { initial_step: first });
    go(first);
  }).catch(function (error) {
    var holder = document.createElement("textarea");
    holder.innerHTML = error.message;  // UCW's answer is HTML-escaped text
    root.appendChild(el("p", { role: "alert", text: holder.value }));
  });
})();
