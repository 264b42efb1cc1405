/* Chat: sends the question, shows the answer as it streams (server-sent events over fetch),
   then swaps in the server-rendered, sanitised answer with its sources. Without JavaScript the
   forms post normally and the page reloads with the answer. */
(function () {
  "use strict";
  var form = document.getElementById("chat-form");
  var log = document.getElementById("chat-log");
  if (!form || !log) { return; }
  var textarea = form.querySelector("textarea");
  var submit = form.querySelector("button[type=submit]");
  var isPublic = form.hasAttribute("data-public");
  var token = isPublic ? (sessionStorage.getItem("chat-token:" + form.action) || "") : "";

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function bubble(role, text) {
    var el = document.createElement("article");
    el.className = "chat-msg chat-msg--" + role;
    var p = document.createElement("p");
    p.className = "chat-msg__text";
    p.textContent = text;
    el.appendChild(p);
    log.appendChild(el);
    el.scrollIntoView({block: "end"});
    return el;
  }

  function parseEvents(buffer, onEvent) {
    var parts = buffer.split("\n\n");
    var rest = parts.pop();
    parts.forEach(function (block) {
      var type = "message", data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event: ") === 0) { type = line.slice(7); }
        else if (line.indexOf("data: ") === 0) { data += line.slice(6); }
      });
      if (data) { onEvent(type, JSON.parse(data)); }
    });
    return rest;
  }

  function stream(url, body, headers, target) {
    var text = target.querySelector(".chat-msg__text");
    var written = "";
    log.setAttribute("aria-busy", "true");
    submit.disabled = true;
    return fetch(url, {method: "POST", body: body, headers: headers, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok || !response.body) {
          return response.json().catch(function () { return {}; }).then(function (data) {
            throw new Error(data.error || "La question n'a pas pu être envoyée.");
          });
        }
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) { return; }
            buffer += decoder.decode(chunk.value, {stream: true});
            buffer = parseEvents(buffer, function (type, data) {
              if (type === "delta") { written += data.text; text.textContent = written; }
              else if (type === "notice") {
                if (data.reset) { written = ""; text.textContent = ""; }
                var note = document.createElement("p");
                note.className = "message message--warning";
                note.textContent = data.text;
                target.insertBefore(note, text);
              } else if (type === "done") {
                var holder = document.createElement("div");
                holder.innerHTML = data.html;  // rendered and sanitised by the server
                var rendered = holder.firstElementChild;
                target.replaceWith(rendered);
                target = rendered;
                wire(rendered);
                if (data.token) { token = data.token; sessionStorage.setItem("chat-token:" + form.action, token); }
                if (data.conversation_url && !form.querySelector("input[name=conversation]")) {
                  history.replaceState(null, "", data.conversation_url);
                  var hidden = document.createElement("input");
                  hidden.type = "hidden"; hidden.name = "conversation";
                  hidden.value = data.conversation_url.replace(/\/$/, "").split("/").pop();
                  form.appendChild(hidden);
                  listConversation(data.conversation_url, lastQuestion);
                }
                if (data.choices && data.choices.length) { choices(data.choices, rendered); }
              } else if (type === "error") {
                text.textContent = data.text;
                target.classList.add("chat-msg--error");
              }
            });
            return pump();
          });
        }
        return pump();
      })
      .catch(function (error) {
        text.textContent = error.message;
        target.classList.add("chat-msg--error");
      })
      .finally(function () {
        log.setAttribute("aria-busy", "false");
        submit.disabled = false;
        textarea.focus();
      });
  }

  var lastQuestion = "";

  function listConversation(url, title) {
    var side = document.querySelector(".chat-side");
    if (!side) { return; }
    var list = side.querySelector(".chat-side__list");
    if (!list) {
      list = document.createElement("ul");
      list.className = "chat-side__list";
      var empty = side.querySelector("p.meta");
      if (empty) { empty.replaceWith(list); } else { side.appendChild(list); }
    }
    list.querySelectorAll("a[aria-current]").forEach(function (a) { a.removeAttribute("aria-current"); });
    var item = document.createElement("li");
    var link = document.createElement("a");
    link.href = url;
    link.textContent = title.length > 60 ? title.slice(0, 59) + "…" : title;
    link.setAttribute("aria-current", "page");
    item.appendChild(link);
    list.insertBefore(item, list.firstChild);
  }

  function choices(list, after) {
    var box = document.createElement("div");
    box.className = "suggestions";
    list.forEach(function (label) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "chip"; b.textContent = label;
      b.addEventListener("click", function () { box.remove(); send(label); });
      box.appendChild(b);
    });
    after.appendChild(box);
  }

  function send(question) {
    question = question.trim();
    if (!question) { return; }
    lastQuestion = question;
    bubble("user", question);
    var target = bubble("assistant", "…");
    textarea.value = "";
    if (isPublic) {
      return stream(form.action, JSON.stringify({question: question, token: token}),
        {"Content-Type": "application/json", "Accept": "text/event-stream"}, target);
    }
    var data = new FormData(form);
    data.set("question", question);
    return stream(form.action, data, {"Accept": "text/event-stream", "X-CSRFToken": csrf()}, target);
  }

  function wire(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var answer = button.closest(".chat-msg").querySelector(".answer");
        navigator.clipboard.writeText(answer ? answer.innerText : "").then(function () {
          button.textContent = "Copié";
          setTimeout(function () { button.textContent = "Copier"; }, 1500);
        });
      });
    });
    root.querySelectorAll("form[data-regenerate]").forEach(function (f) {
      f.addEventListener("submit", function (event) {
        event.preventDefault();
        var target = bubble("assistant", "…");
        stream(f.action, new FormData(f), {"Accept": "text/event-stream", "X-CSRFToken": csrf()}, target);
      });
    });
    root.querySelectorAll("form[data-feedback]").forEach(function (f) {
      f.addEventListener("submit", function (event) {
        event.preventDefault();
        var data = new FormData(f);
        var pressed = event.submitter;
        if (pressed) { data.set("helpful", pressed.value); }
        fetch(f.action, {method: "POST", body: data, credentials: "same-origin",
          headers: {"Accept": "application/json", "X-CSRFToken": csrf()}})
          .then(function (r) { return r.json(); })
          .then(function () {
            f.querySelectorAll("button[name=helpful]").forEach(function (b) {
              b.setAttribute("aria-pressed", String(pressed && b.value === pressed.value));
            });
          });
      });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(textarea.value);
  });
  textarea.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send(textarea.value);
    }
  });
  document.querySelectorAll("[data-suggest]").forEach(function (chip) {
    chip.addEventListener("click", function () { send(chip.textContent); });
  });
  wire(document);
})();
