/* Security keys and passkeys (WebAuthn) in the browser, for the Security tab and the two-step
   page. No build step, no framework.

   The page holds (all rendered by the portal):
   - #key-ceremony: data-ceremony "create" (add a key) or "get" (sign in with one),
     data-autostart "true" to open the browser's prompt at once, data-main "true" when the
     key is what the page asks for, and data-msg-* messages in the page's language;
   - #key-options: twostep's options, WebAuthn Level 3 JSON (base64url);
   - #key-form: the form the answer is posted with, in its hidden #credential field (JSON);
     #key-remember, when there, carries the "Don't ask again on this browser" box;
   - .key-start: the buttons that open the prompt (disabled while it is open, or hidden with
     data-busy="hide"); #key-error: where a failure is said.
   The portal hands the answer to twostep, which checks it; nothing here is trusted. */
(function () {
  "use strict";

  var box = document.getElementById("key-ceremony");
  if (!box) { return; }
  var form = document.getElementById("key-form");
  var errorLine = document.getElementById("key-error");
  var starters = Array.prototype.slice.call(document.querySelectorAll(".key-start"));
  var creating = box.dataset.ceremony === "create";
  var running = false;

  // base64url <-> bytes, for browsers without parse*FromJSON() and toJSON().
  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    b64 += "===".slice((b64.length + 3) % 4);
    var binary = atob(b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes;
  }

  function toText(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer instanceof ArrayBuffer ? buffer : buffer.buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials)
    });
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      allowCredentials: descriptors(json.allowCredentials)
    });
  }

  function answerJson(credential) {
    if (typeof credential.toJSON === "function") { return credential.toJSON(); }
    var response = credential.response;
    var answer = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (credential.authenticatorAttachment) { answer.authenticatorAttachment = credential.authenticatorAttachment; }
    if (response.attestationObject) {
      answer.response.attestationObject = toText(response.attestationObject);
      answer.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      answer.response.authenticatorData = toText(response.authenticatorData);
      answer.response.signature = toText(response.signature);
      answer.response.userHandle = toText(response.userHandle);
    }
    return answer;
  }

  // What the user is told, by the DOMException's name (WebAuthn's own list of failures).
  var MESSAGES = {
    NotAllowedError: "msgNotAllowed",   // cancelled, timed out, or no key of this account
    AbortError: "msgNotAllowed",
    InvalidStateError: "msgInvalidState", // create(): this key is already added
    SecurityError: "msgSecurity",       // this address is not the portal's (an IP, another site)
    NotSupportedError: "msgUnsupported"
  };

  function say(text) {
    var flash = document.getElementById("message");
    if (flash) { flash.hidden = true; }  // one message at a time: the newest
    errorLine.textContent = text;
    errorLine.hidden = false;
  }

  function busy(on) {
    running = on;
    // "Try again" (data-busy="hide") is out of the way while the prompt is open.
    starters.forEach(function (button) {
      if (button.dataset.busy === "hide") { button.hidden = on; } else { button.disabled = on; }
    });
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials &&
              typeof navigator.credentials.create === "function");
  }

  function start(event) {
    if (event) { event.preventDefault(); }
    if (running) { return; }
    if (!supported()) { say(box.dataset.msgUnsupported); return; }
    errorLine.hidden = true;
    busy(true);
    var asked;
    try {
      var json = JSON.parse(document.getElementById("key-options").textContent);
      asked = creating
        ? navigator.credentials.create({ publicKey: creationOptions(json) })
        : navigator.credentials.get({ publicKey: requestOptions(json) });
    } catch (error) {
      asked = Promise.reject(error);
    }
    asked.then(function (credential) {
      if (!credential) { throw new DOMException("no credential", "NotAllowedError"); }
      document.getElementById("credential").value = JSON.stringify(answerJson(credential));
      // Read when the key has answered: the box may have been ticked meanwhile.
      var remember = document.getElementById("key-remember");
      var checkbox = document.getElementById("remember_browser");
      if (remember) { remember.disabled = !(checkbox && checkbox.checked); }
      form.submit();
    }).catch(function (error) {
      busy(false);
      say(box.dataset[MESSAGES[error && error.name] || "msgFailed"]);
    });
  }

  starters.forEach(function (button) { button.addEventListener("click", start); });
  if (!supported()) {
    // Other ways stay; the key's own card (data-main) says why it cannot be used here.
    starters.forEach(function (button) { button.hidden = true; });
    if (box.dataset.main === "true") { say(box.dataset.msgUnsupported); }
  } else if (box.dataset.autostart === "true") {
    start();
  }
})();
