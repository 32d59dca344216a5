// Stepup WebAuthn glue: reads the options the server embedded in the page,
// runs the ceremony, and posts the result in the form. No inline script.
(function () {
  "use strict";
  var me = document.currentScript;
  var mode = me.getAttribute("data-mode");
  var optionsEl = document.getElementById("webauthn-options");
  if (!optionsEl || !window.PublicKeyCredential) return;
  var options = JSON.parse(optionsEl.textContent).publicKey;

  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), buf = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) buf[i] = bin.charCodeAt(i);
    return buf.buffer;
  }
  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creds(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: b64urlToBuf(c.id) }); });
  }
  function serialise(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: bufToB64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: bufToB64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bufToB64url(r.authenticatorData);
      out.response.signature = bufToB64url(r.signature);
      if (r.userHandle) out.response.userHandle = bufToB64url(r.userHandle);
    }
    return JSON.stringify(out);
  }
  function submit(cred, method) {
    var form = document.getElementById("webauthn-response").form;
    document.getElementById("webauthn-response").value = serialise(cred);
    if (method) {
      var m = document.createElement("input");
      m.type = "hidden"; m.name = "method"; m.value = method;
      form.appendChild(m);
    }
    form.submit();
  }
  function status(text) {
    var el = document.getElementById("webauthn-status");
    if (el) el.textContent = text;
  }
  var publicKey = Object.assign({}, options, { challenge: b64urlToBuf(options.challenge) });
  if (mode === "create") {
    publicKey.user = Object.assign({}, options.user, { id: b64urlToBuf(options.user.id) });
    publicKey.excludeCredentials = creds(options.excludeCredentials);
    var create = function () {
      navigator.credentials.create({ publicKey: publicKey }).then(function (c) { submit(c); },
        function (e) { status("The passkey was not created (" + e.name + "). Try again or cancel."); });
    };
    document.getElementById("webauthn-start").addEventListener("click", create);
    create();
    return;
  }
  publicKey.allowCredentials = creds(options.allowCredentials);
  if (mode === "conditional") {
    if (!PublicKeyCredential.isConditionalMediationAvailable) return;
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (!ok) return;
      navigator.credentials.get({ mediation: "conditional", publicKey: publicKey })
        .then(function (c) { submit(c, "webauthn"); }, function () {});
    });
    return;
  }
  var get = function () {
    navigator.credentials.get({ publicKey: publicKey }).then(function (c) { submit(c); },
      function (e) { status("The passkey was not used (" + e.name + "). Try again or cancel."); });
  };
  document.getElementById("webauthn-start").addEventListener("click", get);
  get();
})();
