/* Security keys and passkeys on the mfa pages (WebAuthn Level 3), without any library.
 *
 * A button <button data-webauthn="create|get" data-options="URL" data-verify="URL" disabled>
 * runs one ceremony: POST {} (or {passkey: true} with data-passkey) to its options URL, which
 * answers {ceremony_id, publicKey}; navigator.credentials.create() or .get(); then POST
 * {ceremony_id, credential, name, next, trust_device} to its verify URL, which answers {redirect}
 * or {detail, code}. data-name-input names the <input> holding a new key's name, data-trust-input
 * the checkbox "Trust this browser" (trust_device: whether it is ticked); data-next is passed along. Messages for the user come from the page (translated there): the data-* texts of
 * the #webauthn-status element. Buttons are disabled in the HTML and enabled here only when the
 * browser has WebAuthn.
 */
(function () {
  "use strict";

  var status = document.getElementById("webauthn-status");

  function say(text, isError) {
    if (!status) return;
    status.textContent = text || "";
    status.className = isError ? "error" : "";
  }

  function text(name) {
    return (status && status.dataset[name]) || "";
  }

  // --- base64url, for browsers with WebAuthn but without the Level 3 JSON helpers ------------------

  function toBuffer(value) {
    var b64 = value.replace(/-/g, "+").replace(/_/g, "/");
    b64 += "====".slice(0, (4 - (b64.length % 4)) % 4);
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: toBuffer(d.id) });
    });
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, { id: toBuffer(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    var r = credential.response;
    var response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null,
    };
  }

  // --- the ceremony ---------------------------------------------------------------------------------

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.detail || text("failed"));
          error.fromServer = true;
          throw error;
        }
        return data;
      });
    });
  }

  function run(button) {
    var create = button.dataset.webauthn === "create";
    var nameInput = button.dataset.nameInput ? document.getElementById(button.dataset.nameInput) : null;
    var trustInput = button.dataset.trustInput ? document.getElementById(button.dataset.trustInput) : null;
    var ceremony;
    button.disabled = true;
    say(text("working"), false);
    post(button.dataset.options, create ? { passkey: button.dataset.passkey === "true" } : {})
      .then(function (options) {
        ceremony = options.ceremony_id;
        return create
          ? navigator.credentials.create({ publicKey: creationOptions(options.publicKey) })
          : navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
      })
      .then(function (credential) {
        return post(button.dataset.verify, {
          ceremony_id: ceremony,
          credential: credentialJSON(credential),
          name: nameInput ? nameInput.value : "",
          next: button.dataset.next || "",
          trust_device: trustInput ? trustInput.checked : false,
        });
      })
      .then(function (answer) {
        window.location.assign(answer.redirect);
      })
      .catch(function (error) {
        button.disabled = false;
        if (error && error.fromServer) {
          say(error.message, true);
        } else if (error && error.name === "InvalidStateError") {
          say(text("duplicate"), true);
        } else if (error && error.name === "NotAllowedError") {
          say(text("cancelled"), true);
        } else {
          say(text("failed"), true);
        }
      });
  }

  var buttons = document.querySelectorAll("button[data-webauthn]");
  if (!buttons.length) return;
  if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
    say(text("unsupported"), true);
    return;  // the buttons stay disabled
  }
  Array.prototype.forEach.call(buttons, function (button) {
    button.disabled = false;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      run(button);
    });
  });
})();
