// Kiln contact form: sends the form as JSON with a solved proof-of-work
// challenge, and shows the answer in the form's status line.
//
// Without this script (or in a browser that lacks fetch or WebCrypto, which
// exists only on https and localhost) the form still posts itself urlencoded
// and the server answers with a redirect, so nothing here is required.
//
// Flow: on load, fetch a signed challenge from /api/contact/challenge and
// start looking for a proof in the background while the visitor types. On
// submit, wait for the proof and the minimum fill time, then POST JSON with an
// Idempotency-Key that stays the same while the text does, so a double click
// or a retry after a network error cannot send the message twice.
(function () {
  "use strict";

  var form = document.getElementById("contact-form");
  var status = document.getElementById("contact-status");
  if (!form || !status || !window.fetch || !window.crypto || !window.crypto.subtle) {
    return;
  }

  var endpoint = form.getAttribute("action") || "/api/contact";
  var labels = { name: "Name", email: "Email", subject: "Subject", message: "Message" };
  var challenge = null; // { token, difficulty, fetchedAt, minFillMs, proof: Promise<string> }
  var sending = false;
  var lastBody = null;
  var lastKey = null;

  function say(text, kind) {
    status.textContent = text;
    status.setAttribute("data-state", kind || "info");
  }

  function leadingZeroBits(bytes) {
    var bits = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) {
        bits += 8;
        continue;
      }
      return bits + Math.clz32(bytes[i]) - 24;
    }
    return bits;
  }

  // Hashes candidates in batches so that WebCrypto's async calls overlap,
  // and yields between batches so the page stays responsive.
  function solve(token, difficulty) {
    var encoder = new TextEncoder();
    var batch = 256;
    function tryBatch(start) {
      var hashes = [];
      for (var n = start; n < start + batch; n++) {
        hashes.push(crypto.subtle.digest("SHA-256", encoder.encode(token + ":" + n)));
      }
      return Promise.all(hashes).then(function (results) {
        for (var i = 0; i < results.length; i++) {
          if (leadingZeroBits(new Uint8Array(results[i])) >= difficulty) {
            return String(start + i);
          }
        }
        return new Promise(function (resolve) { setTimeout(resolve, 0); }).then(function () {
          return tryBatch(start + batch);
        });
      });
    }
    return tryBatch(0);
  }

  function fetchChallenge() {
    var fetchedAt = Date.now();
    var pending = fetch(endpoint + "/challenge", { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("challenge " + response.status); }
        return response.json();
      })
      .then(function (issued) {
        return {
          token: issued.token,
          fetchedAt: fetchedAt,
          minFillMs: issued.min_fill_ms || 0,
          proof: solve(issued.token, issued.difficulty)
        };
      });
    challenge = pending;
    // A failed fetch is reported on submit, which then falls back to a plain post.
    pending.catch(function () {});
    return pending;
  }

  function newKey() {
    if (crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function fieldValues() {
    var values = {};
    ["name", "email", "subject", "message", "website"].forEach(function (name) {
      var input = form.elements[name];
      values[name] = input ? input.value : "";
    });
    return values;
  }

  function clearInvalid() {
    Object.keys(labels).forEach(function (name) {
      var input = form.elements[name];
      if (input) { input.removeAttribute("aria-invalid"); }
    });
  }

  function showFieldErrors(fields) {
    var parts = [];
    var first = null;
    Object.keys(fields).forEach(function (name) {
      var input = form.elements[name];
      if (input) {
        input.setAttribute("aria-invalid", "true");
        first = first || input;
      }
      parts.push((labels[name] || name) + " " + fields[name]);
    });
    say("Please fix: " + parts.join("; ") + ".", "error");
    if (first) { first.focus(); }
  }

  function wait(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, Math.max(0, ms)); });
  }

  function post(values, current, proof) {
    var body = JSON.stringify(values);
    if (body !== lastBody) {
      lastBody = body;
      lastKey = newKey();
    }
    values.challenge = current.token;
    values.pow = proof;
    return fetch(endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "Idempotency-Key": lastKey },
      body: JSON.stringify(values),
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data, headers: response.headers };
      });
    });
  }

  function handle(result, retried) {
    var error = (result.data && result.data.error) || {};
    if (result.status >= 200 && result.status < 300) {
      say(result.data.message || "Thank you! Your message has been received.", "success");
      form.reset();
      lastBody = null;
      fetchChallenge();
      return null;
    }
    if (result.status === 422 && error.fields) {
      showFieldErrors(error.fields);
      return null;
    }
    if (result.status === 429) {
      var secs = parseInt(result.headers.get("Retry-After") || "60", 10);
      say("Too many messages. Please try again in " + Math.ceil(secs / 60) + " minute(s).", "error");
      return null;
    }
    if (error.code === "spam_refused" && !retried) {
      // An expired, reused or too-early challenge: get a fresh one and try once more.
      return "retry";
    }
    if (result.status === 413) {
      say("Your message is too long to send.", "error");
      return null;
    }
    say("Sorry, your message could not be sent. Please try again later.", "error");
    return null;
  }

  function send(values, retried) {
    var current;
    return (challenge || fetchChallenge())
      .then(function (c) {
        current = c;
        return c.proof;
      })
      .then(function (proof) {
        return wait(current.fetchedAt + current.minFillMs + 50 - Date.now()).then(function () {
          return post(values, current, proof);
        });
      })
      .then(function (result) {
        if (handle(result, retried) === "retry") {
          fetchChallenge();
          return send(fieldValues(), true);
        }
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) { return; }
    sending = true;
    clearInvalid();
    say("Sending…", "pending");
    var button = form.querySelector("[type=submit]");
    if (button) { button.disabled = true; }

    send(fieldValues(), false)
      .catch(function () {
        // No challenge could be had (or the network failed): let the browser
        // post the form itself, as it would without this script.
        say("Sending without JavaScript…", "pending");
        form.submit();
      })
      .then(function () {
        sending = false;
        if (button) { button.disabled = false; }
      });
  });

  fetchChallenge();
})();
