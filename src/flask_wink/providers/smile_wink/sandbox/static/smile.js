/* Smile Wink account-linking SDK (offline sandbox edition). */
(function (window, document) {
  "use strict";

  var SDK_VERSION = "__SDK_VERSION__";
  var ACCENT = SDK_VERSION === "1" ? "#0a7cff" : "#5b3df5";
  var STYLE_ID = "smile-wink-style";
  var GENERIC_ERROR = "The Smile sandbox could not complete this request. Please try again.";

  function findScriptSrc() {
    var current = document.currentScript;
    if (current && current.src) return current.src;
    var scripts = document.getElementsByTagName("script");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/smile\.v[12]\.js(?:[?#].*)?$/.test(scripts[i].src || "")) return scripts[i].src;
    }
    return window.location.href;
  }

  function computeRoot(src) {
    var clean = String(src).split("#")[0].split("?")[0];
    var m = clean.match(/^(.*)\/v[12]\/smile\.v[12]\.js$/);
    if (m) return m[1];
    return clean.replace(/\/[^/]*$/, "");
  }

  var ROOT = computeRoot(findScriptSrc());

  var CSS = [
    ".smile-wink-backdrop{position:fixed;inset:0;top:0;left:0;right:0;bottom:0;background:rgba(15,18,30,.55);",
    "display:flex;align-items:center;justify-content:center;z-index:2147483000;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}",
    ".smile-wink-dialog{position:relative;background:#fff;color:#1d2130;border-radius:14px;width:min(92vw,400px);",
    "max-height:90vh;overflow:auto;box-shadow:0 18px 50px rgba(0,0,0,.3);padding:28px 24px 14px;box-sizing:border-box}",
    ".smile-wink-x{position:absolute;top:8px;right:10px;border:0;background:transparent;font-size:24px;line-height:1;",
    "cursor:pointer;color:#666;padding:4px 8px;border-radius:6px}",
    ".smile-wink-x:hover{background:#f0f0f4;color:#222}",
    ".smile-wink-dialog h2{margin:4px 0 12px;font-size:20px;font-weight:650}",
    ".smile-wink-dialog p{margin:0 0 14px;font-size:14px;line-height:1.45;color:#444}",
    ".smile-wink-btn{display:block;width:100%;padding:11px 14px;margin:8px 0 0;border-radius:9px;border:1px solid var(--smile-wink-accent);",
    "background:var(--smile-wink-accent);color:#fff;font-size:15px;font-weight:600;cursor:pointer;box-sizing:border-box}",
    ".smile-wink-btn[disabled]{opacity:.55;cursor:progress}",
    ".smile-wink-btn.smile-wink-secondary{background:#fff;color:var(--smile-wink-accent)}",
    ".smile-wink-provider{display:block;width:100%;text-align:left;padding:12px 14px;margin:0 0 8px;border:1px solid #d9dbe4;",
    "border-radius:9px;background:#fafbff;font-size:15px;cursor:pointer;color:#1d2130}",
    ".smile-wink-provider:hover{border-color:var(--smile-wink-accent)}",
    ".smile-wink-accounts{margin-top:16px;border-top:1px solid #eceef4;padding-top:10px}",
    ".smile-wink-account{display:flex;align-items:center;justify-content:space-between;gap:8px;font-size:14px;margin:6px 0}",
    ".smile-wink-account button{border:1px solid #d33;color:#d33;background:#fff;border-radius:7px;padding:5px 9px;cursor:pointer;font-size:13px}",
    ".smile-wink-field{margin:0 0 12px}",
    ".smile-wink-field label{display:block;font-size:13px;font-weight:600;margin:0 0 4px}",
    ".smile-wink-field input{width:100%;padding:10px;border:1px solid #c9ccd8;border-radius:8px;font-size:15px;box-sizing:border-box}",
    ".smile-wink-alert{background:#fff1f1;border:1px solid #f3c2c2;color:#8a1c1c;border-radius:8px;padding:10px 12px;font-size:14px;margin:0 0 12px}",
    ".smile-wink-alert code{display:block;font-weight:700;margin-bottom:4px}",
    ".smile-wink-footer{margin-top:18px;text-align:center;font-size:11px;color:#8a8fa3}",
    ".smile-wink-loading{padding:30px 0;text-align:center;font-size:15px;color:#555}",
    ".smile-wink-uploads{list-style:none;margin:0 0 8px;padding:0}",
    ".smile-wink-upload{display:flex;align-items:center;justify-content:space-between;gap:8px;font-size:14px;",
    "padding:8px 0;border-bottom:1px solid #eceef4}",
    ".smile-wink-upload-name{font-weight:600;word-break:break-all}",
    ".smile-wink-upload-status{display:block;font-size:12px;color:#555;margin-top:2px}",
    ".smile-wink-upload button{border:1px solid #d33;color:#d33;background:#fff;border-radius:7px;padding:5px 9px;cursor:pointer;font-size:13px}",
    ".smile-wink-hint{font-size:13px}",
    ".smile-wink-hint a{color:var(--smile-wink-accent)}"
  ].join("");

  function injectStyle() {
    if (document.getElementById(STYLE_ID)) return;
    var style = document.createElement("style");
    style.id = STYLE_ID;
    style.textContent = CSS;
    (document.head || document.documentElement).appendChild(style);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") node.textContent = value;
        else if (key === "className") node.className = value;
        else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : value);
      });
    }
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  var instanceCounter = 0;

  class SmileLinkModal {
    constructor(options) {
      this._options = Object.assign({}, options || {});
      this._uid = "smile-wink-" + (++instanceCounter);
      this._gen = 0;
      this._reset();
    }

    _reset() {
      this._isOpen = false;
      this._overlay = null;
      this._body = null;
      this._session = null;
      this._providers = [];
      this._accounts = [];
      this._provider = null;
      this._account = null;
      this._screen = null;
      this._busy = false;
      this._uploads = [];
      if (this._pollTimer) clearTimeout(this._pollTimer);
      this._pollTimer = null;
    }

    open() {
      if (this._isOpen) return;
      this._isOpen = true;
      if (!document.body) {
        document.addEventListener("DOMContentLoaded", () => { if (this._isOpen && !this._overlay) this._mount(); });
        return;
      }
      this._mount();
    }

    close() {
      if (!this._isOpen) return;
      this._teardown();
      this._emit("onClose", { reason: "close" });
    }

    _mount() {
      injectStyle();
      this._body = el("div", { className: "smile-wink-body" });
      var dialog = el("div", {
        className: "smile-wink-dialog", role: "dialog", "aria-modal": "true", "aria-label": "Smile Wink"
      }, [
        el("button", { type: "button", className: "smile-wink-x", "aria-label": "Close", onclick: () => this._onX() }, ["\u00d7"]),
        this._body,
        el("div", { className: "smile-wink-footer", text: "Smile Wink sandbox \u00b7 SDK v" + SDK_VERSION })
      ]);
      dialog.style.setProperty("--smile-wink-accent", ACCENT);
      this._overlay = el("div", { className: "smile-wink-backdrop", "data-smile-wink-version": SDK_VERSION }, [dialog]);
      document.body.appendChild(this._overlay);
      this._startSession();
    }

    _teardown() {
      this._gen++;
      if (this._overlay && this._overlay.parentNode) this._overlay.parentNode.removeChild(this._overlay);
      this._reset();
    }

    _emit(name, payload) {
      var fn = this._options[name];
      if (typeof fn !== "function") return;
      try {
        if (payload === undefined) fn();
        else fn(payload);
      } catch (err) {
        if (window.console && console.error) console.error("SmileLinkModal: " + name + " callback threw", err);
      }
    }

    _uiEvent(eventName, account, archive) {
      var s = this._session || {};
      this._emit("onUIEvent", {
        eventName: eventName,
        eventTime: new Date().toISOString(),
        mode: s.mode || null,
        userId: s.userId || null,
        account: account || null,
        archive: archive || null
      });
    }

    _ids(account) {
      return {
        accountId: account.id,
        userId: account.userId || (this._session && this._session.userId) || null,
        providerId: account.providerId
      };
    }

    _providerName(providerId) {
      var p = this._providers.find(function (x) { return x.id === providerId; });
      return p ? p.name : String(providerId);
    }

    _upsertAccount(account) {
      if (!account || !account.id) return;
      var i = this._accounts.findIndex(function (a) { return a.id === account.id; });
      if (i >= 0) this._accounts[i] = Object.assign({}, this._accounts[i], account);
      else this._accounts.push(Object.assign({}, account));
    }

    async _post(path, body) {
      var gen = this._gen;
      var res;
      var data = null;
      try {
        res = await fetch(ROOT + path, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body)
        });
      } catch (err) {
        if (gen === this._gen) this._showError("NETWORK_ERROR", "Could not reach the Smile sandbox server.");
        return null;
      }
      try { data = await res.json(); } catch (err) { data = null; }
      if (gen !== this._gen) return null;
      if (res.status === 401) {
        this._teardown();
        this._emit("onTokenExpired");
        return null;
      }
      if (!res.ok) {
        this._showError((data && data.code) || "HTTP_" + res.status, (data && data.message) || GENERIC_ERROR);
        return null;
      }
      return data || {};
    }

    _render(screen, children, focusSelector) {
      if (!this._body) return;
      this._screen = screen;
      this._body.textContent = "";
      children.forEach((c) => { if (c) this._body.appendChild(c); });
      var target = focusSelector && this._body.querySelector(focusSelector);
      if (target) target.focus();
    }

    _setBusy(busy, button) {
      this._busy = busy;
      if (button) button.disabled = busy;
    }

    _onX() {
      if (!this._isOpen) return;
      if (this._screen === "error") {
        this._teardown();
        this._emit("onClose", { reason: "error" });
        return;
      }
      this._uiEvent("CLOSE", null);
      this._teardown();
      this._emit("onClose", { reason: "close" });
    }

    async _startSession() {
      this._render("loading", [el("div", { className: "smile-wink-loading", role: "status", text: "Loading\u2026" })]);
      var data = await this._post("/widget/session", {
        token: this._options.userToken,
        templateId: this._options.templateId == null ? null : this._options.templateId
      });
      if (!data) return;
      this._session = { sessionId: data.sessionId, userId: data.userId, mode: data.mode || "SANDBOX" };
      this._providers = Array.isArray(data.providers) ? data.providers : [];
      this._accounts = [];
      (Array.isArray(data.accounts) ? data.accounts : []).forEach((a) => this._upsertAccount(a));
      this._showConsent();
      this._uiEvent("OPEN", null);
    }

    _showConsent() {
      this._render("consent", [
        el("h2", { text: "Share your work data" }),
        el("p", { text: "This app will receive your identity, employment and income data through Smile (sandbox). " +
          "No real accounts are contacted in the sandbox." }),
        el("button", { type: "button", className: "smile-wink-btn", onclick: () => {
          this._uiEvent("CONSENT_AGREED", null);
          this._showProviders();
        } }, ["Agree"])
      ], ".smile-wink-btn");
    }

    _showProviders() {
      this._provider = null;
      this._account = null;
      var list = el("div", { className: "smile-wink-providers" }, this._providers.map((p) =>
        el("button", { type: "button", className: "smile-wink-provider", title: p.longName || null,
          "data-provider-id": p.id, onclick: () => this._selectProvider(p) }, [p.name])
      ));
      var connected = this._accounts.filter((a) => a.status === "CONNECTED");
      var accounts = null;
      if (connected.length) {
        accounts = el("div", { className: "smile-wink-accounts" }, connected.map((a) => {
          var name = this._providerName(a.providerId);
          return el("div", { className: "smile-wink-account", "data-account-id": a.id }, [
            el("span", { text: name + " connected" }),
            el("button", { type: "button", onclick: (ev) => this._removeAccount(a, ev.currentTarget) }, ["Disconnect " + name])
          ]);
        }));
      }
      this._render("providers", [
        el("h2", { text: "Select your provider" }),
        this._providers.length ? list : el("p", { text: "No providers are available for this template." }),
        el("button", { type: "button", className: "smile-wink-btn smile-wink-secondary", onclick: () => {
          if (!this._busy) this._showUpload();
        } }, ["Upload documents"]),
        accounts
      ]);
    }

    // -- uploads: documents instead of a login --------------------------------------------------

    _showUpload(problem) {
      var uid = this._uid;
      var submit = el("button", { type: "submit", className: "smile-wink-btn" }, ["Submit"]);
      var form = el("form", { novalidate: true, onsubmit: (ev) => {
        ev.preventDefault();
        var input = form.elements.document;
        var files = input && input.files ? Array.prototype.slice.call(input.files) : [];
        if (!files.length) { this._showUpload("Choose a document first."); return; }
        this._submitUpload(files, submit);
      } }, [
        problem ? el("div", { className: "smile-wink-alert", role: "alert" }, [problem]) : null,
        el("div", { className: "smile-wink-field" }, [
          el("label", { for: uid + "-document", text: "Document" }),
          el("input", { id: uid + "-document", name: "document", type: "file", multiple: true })
        ]),
        submit,
        el("button", { type: "button", className: "smile-wink-btn smile-wink-secondary", onclick: () => {
          if (!this._busy) this._showProviders();
        } }, ["Back"])
      ]);
      this._render("upload", [
        el("h2", { text: "Upload documents" }),
        el("p", { text: "Upload a payslip as a PDF, PNG or JPEG file. The sandbox reads only its sample payslip; " +
          "other files end UNSUPPORTED or ERROR." }),
        el("p", { className: "smile-wink-hint" }, [
          el("a", { href: ROOT + "/samples/payslip.pdf", download: "payslip.pdf", text: "Download the sample payslip (PDF)" }),
          " \u00b7 ",
          el("a", { href: ROOT + "/samples/payslip.png", download: "payslip.png", text: "PNG" })
        ]),
        form
      ], "input");
      if (!problem) this._uiEvent("UPLOAD_SELECTED", null, null);
    }

    _readFile(file) {
      return new Promise(function (resolve, reject) {
        var reader = new FileReader();
        reader.onload = function () {
          var url = String(reader.result || "");
          resolve({ name: file.name, contentType: file.type || "", base64: url.slice(url.indexOf(",") + 1) });
        };
        reader.onerror = function () { reject(reader.error); };
        reader.readAsDataURL(file);
      });
    }

    async _submitUpload(files, button) {
      if (this._busy) return;
      this._setBusy(true, button);
      var gen = this._gen;
      var read;
      try {
        read = await Promise.all(files.map((f) => this._readFile(f)));
      } catch (err) {
        if (gen === this._gen) this._showError("FILE_UNREADABLE", "The file could not be read.");
        return;
      }
      if (gen !== this._gen) return;
      var data = await this._post("/widget/uploads", { sessionId: this._session.sessionId, files: read });
      this._busy = false;
      if (!data) return;
      var uploads = Array.isArray(data.uploads) ? data.uploads : [];
      uploads.forEach((u) => this._upsertUpload(u));
      this._emit("onUploadsCreated", { uploads: uploads, userId: this._session.userId });
      this._uiEvent("UPLOADS_CREATED", null, uploads[0] || null);
      this._showUploads();
    }

    _upsertUpload(upload) {
      if (!upload || !upload.id) return;
      var i = this._uploads.findIndex(function (u) { return u.id === upload.id; });
      if (i >= 0) this._uploads[i] = upload;
      else this._uploads.push(upload);
    }

    _uploadName(upload) {
      var files = Array.isArray(upload.rawFiles) ? upload.rawFiles : [];
      return files.length ? files.map(function (f) { return f.name; }).join(", ") : upload.id;
    }

    _uploadStatus(upload) {
      return (upload.state && upload.state.status) || "STARTED";
    }

    _showUploads() {
      var list = el("ul", { className: "smile-wink-uploads", "aria-label": "Uploads" });
      this._render("uploads", [
        el("h2", { text: "Your uploads" }),
        list,
        el("button", { type: "button", className: "smile-wink-btn smile-wink-secondary", onclick: () => {
          if (!this._busy) this._showUpload();
        } }, ["Upload another document"]),
        el("button", { type: "button", className: "smile-wink-btn", onclick: () => {
          this._teardown();
          this._emit("onClose", { reason: "exit" });
        } }, ["Done"])
      ]);
      this._renderUploadList();
      this._pollUploads();
    }

    _renderUploadList() {
      var list = this._body && this._body.querySelector(".smile-wink-uploads");
      if (!list) return;
      list.textContent = "";
      if (!this._uploads.length) list.appendChild(el("li", { text: "No uploads yet." }));
      this._uploads.forEach((u) => {
        var name = this._uploadName(u);
        var status = this._uploadStatus(u);
        list.appendChild(el("li", { className: "smile-wink-upload", "data-archive-id": u.id, "data-status": status }, [
          el("span", null, [
            el("span", { className: "smile-wink-upload-name", text: name }),
            el("span", { className: "smile-wink-upload-status", text: status })
          ]),
          status === "REVOKED" ? null : el("button", { type: "button",
            onclick: (ev) => this._removeUpload(u, ev.currentTarget) }, ["Remove " + name])
        ]));
      });
    }

    async _pollUploads() {
      // Analysis takes a moment: refresh the statuses quietly while the list is on screen.
      if (this._pollTimer) clearTimeout(this._pollTimer);
      this._pollTimer = null;
      if (this._screen !== "uploads" || !this._session) return;
      var gen = this._gen;
      try {
        var res = await fetch(ROOT + "/widget/uploads/list", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ sessionId: this._session.sessionId })
        });
        var data = res.ok ? await res.json() : null;
        if (gen !== this._gen || this._screen !== "uploads") return;
        if (data && Array.isArray(data.uploads)) {
          var before = JSON.stringify(this._uploads.map((u) => [u.id, this._uploadStatus(u)]));
          data.uploads.forEach((u) => this._upsertUpload(u));
          var after = JSON.stringify(this._uploads.map((u) => [u.id, this._uploadStatus(u)]));
          if (before !== after && !this._busy) this._renderUploadList();
        }
      } catch (err) { /* try again on the next tick */ }
      if (gen !== this._gen || this._screen !== "uploads") return;
      if (this._uploads.some((u) => this._uploadStatus(u) === "STARTED")) {
        this._pollTimer = setTimeout(() => this._pollUploads(), 700);
      }
    }

    async _removeUpload(upload, button) {
      if (this._busy) return;
      this._setBusy(true, button);
      var data = await this._post("/widget/uploads/" + encodeURIComponent(upload.id) + "/remove", {
        sessionId: this._session.sessionId
      });
      this._busy = false;
      if (!data) return;
      var removed = data.upload || Object.assign({}, upload, { state: { status: "REVOKED" } });
      this._upsertUpload(removed);
      this._emit("onUploadsRemoved", { uploads: [removed], userId: this._session.userId });
      this._uiEvent("UPLOADS_REMOVED", null, removed);
      if (this._screen === "uploads") this._renderUploadList();
    }

    async _removeAccount(account, button) {
      if (this._busy) return;
      this._setBusy(true, button);
      var data = await this._post("/widget/accounts/" + encodeURIComponent(account.id) + "/remove", {
        sessionId: this._session.sessionId
      });
      this._busy = false;
      if (!data) return;
      var removed = Object.assign({}, account, data.account || {});
      if (!data.account || !data.account.status) removed.status = "DISCONNECTED";
      this._upsertAccount(removed);
      this._emit("onAccountRemoved", this._ids(removed));
      this._uiEvent("ACCOUNT_REMOVED", data.account || removed);
      if (this._screen === "providers") this._showProviders();
    }

    _selectProvider(provider) {
      this._provider = provider;
      this._uiEvent("PROVIDER_SELECTED", null);
      var uid = this._uid;
      var submit = el("button", { type: "submit", className: "smile-wink-btn" }, ["Continue"]);
      var form = el("form", { novalidate: true, onsubmit: (ev) => {
        ev.preventDefault();
        this._submitLogin(form.elements.username.value, form.elements.password.value, submit);
      } }, [
        el("div", { className: "smile-wink-field" }, [
          el("label", { for: uid + "-username", text: "Username" }),
          el("input", { id: uid + "-username", name: "username", type: "text", autocomplete: "username" })
        ]),
        el("div", { className: "smile-wink-field" }, [
          el("label", { for: uid + "-password", text: "Password" }),
          el("input", { id: uid + "-password", name: "password", type: "password", autocomplete: "current-password" })
        ]),
        submit,
        el("button", { type: "button", className: "smile-wink-btn smile-wink-secondary", onclick: () => {
          if (!this._busy) this._showProviders();
        } }, ["Back"])
      ]);
      this._render("login", [el("h2", { text: "Log in to " + provider.name }), form], "input");
    }

    async _submitLogin(username, password, button) {
      if (this._busy || !this._provider) return;
      var provider = this._provider;
      this._uiEvent("LOGIN_SUBMITTED", null);
      this._setBusy(true, button);
      var data = await this._post("/widget/accounts", {
        sessionId: this._session.sessionId,
        providerId: provider.id,
        username: username,
        password: password
      });
      this._busy = false;
      if (!data) return;
      var account = data.account || {};
      this._account = account;
      this._upsertAccount(account);
      this._emit("onAccountCreated", this._ids(account));
      this._handleAccount(account, true);
    }

    _handleAccount(account, fromLogin) {
      if (account.status === "AWAITING_MFA" && fromLogin) {
        this._uiEvent("MFA_REQUIRED", account);
        this._showMfa();
      } else if (account.status === "CONNECTED") {
        this._showSuccess(account);
      } else {
        var code = account.errorCode || "UNKNOWN_ERROR";
        this._emit("onAccountError", Object.assign(this._ids(account), { errorCode: code }));
        this._uiEvent("ACCOUNT_ERROR", account);
        this._showError(code, account.errorMessage || GENERIC_ERROR);
      }
    }

    _showMfa() {
      var uid = this._uid;
      var submit = el("button", { type: "submit", className: "smile-wink-btn" }, ["Continue"]);
      var form = el("form", { novalidate: true, onsubmit: (ev) => {
        ev.preventDefault();
        this._submitMfa(form.elements.code.value, submit);
      } }, [
        el("div", { className: "smile-wink-field" }, [
          el("label", { for: uid + "-mfa", text: "Verification code" }),
          el("input", { id: uid + "-mfa", name: "code", type: "text", inputmode: "numeric", autocomplete: "one-time-code" })
        ]),
        submit
      ]);
      this._render("mfa", [
        el("h2", { text: "Enter your verification code" }),
        el("p", { text: "A verification code was sent by " + (this._provider ? this._provider.name : "your provider") +
          " (sandbox: no real message is delivered)." }),
        form
      ], "input");
    }

    async _submitMfa(code, button) {
      if (this._busy || !this._account) return;
      var account = this._account;
      this._uiEvent("MFA_SUBMITTED", account);
      this._setBusy(true, button);
      var data = await this._post("/widget/accounts/" + encodeURIComponent(account.id) + "/mfa", {
        sessionId: this._session.sessionId,
        code: code
      });
      this._busy = false;
      if (!data) return;
      var updated = data.account || {};
      this._account = updated;
      this._upsertAccount(updated);
      this._handleAccount(updated, false);
    }

    _showSuccess(account) {
      var name = this._providerName(account.providerId);
      this._render("success", [
        el("h2", { text: "Account connected" }),
        el("p", { text: name + " is now linked." }),
        el("button", { type: "button", className: "smile-wink-btn", onclick: () => {
          this._teardown();
          this._emit("onClose", { reason: "exit" });
        } }, ["Done"])
      ], ".smile-wink-btn");
      this._emit("onAccountConnected", this._ids(account));
      this._uiEvent("ACCOUNT_CONNECTED", account);
    }

    _showError(code, message) {
      if (!this._isOpen || !this._body) return;
      this._busy = false;
      this._render("error", [
        el("h2", { text: "Something went wrong" }),
        el("div", { className: "smile-wink-alert", role: "alert" }, [
          el("code", { text: code }),
          el("span", { text: message })
        ]),
        el("button", { type: "button", className: "smile-wink-btn", onclick: () => {
          if (this._session) this._showProviders();
          else this._startSession();
        } }, ["Try again"])
      ], ".smile-wink-btn");
    }
  }

  SmileLinkModal.version = SDK_VERSION;
  window.SmileLinkModal = SmileLinkModal;
})(window, document);
