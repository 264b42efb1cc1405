// Console: live progress of running indexations, and drag-and-drop uploads.
(function () {
  "use strict";
  function poll(row) {
    fetch(row.dataset.run, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        ["new", "updated", "unchanged", "failed", "deleted", "done", "total", "status_label"].forEach(function (k) {
          var cell = row.querySelector('[data-field="' + k + '"]');
          if (cell) cell.textContent = data[k] + (k === "status_label" && data.error ? " : " + data.error : "");
        });
        var bar = row.querySelector('[data-field="progress"]');
        if (bar) { bar.max = data.total || 1; bar.value = data.done; }
        row.dataset.status = data.status;
        if (data.status === "running") setTimeout(function () { poll(row); }, 1500);
      })
      .catch(function () { setTimeout(function () { poll(row); }, 5000); });
  }
  document.querySelectorAll('tr[data-run][data-status="running"]').forEach(poll);

  var zone = document.querySelector("[data-dropzone]");
  if (zone) {
    var input = zone.querySelector('input[type="file"]');
    var list = zone.querySelector("[data-dropzone-list]");
    function show() {
      var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
      list.textContent = names.length ? names.length + " fichier(s) : " + names.join(", ") : "";
    }
    ["dragenter", "dragover"].forEach(function (e) {
      zone.addEventListener(e, function (ev) { ev.preventDefault(); zone.classList.add("dropzone--over"); });
    });
    ["dragleave", "drop"].forEach(function (e) {
      zone.addEventListener(e, function () { zone.classList.remove("dropzone--over"); });
    });
    zone.addEventListener("drop", function (ev) {
      ev.preventDefault();
      if (ev.dataTransfer && ev.dataTransfer.files.length) { input.files = ev.dataTransfer.files; show(); }
    });
    input.addEventListener("change", show);
  }
})();

// Source form: show only the settings of the chosen kind of source.
(function () {
  "use strict";
  var form = document.querySelector("[data-source-form]");
  if (!form) return;
  var kinds = {
    folder: ["folder_path", "folder_include"],
    website: ["start_urls", "include", "exclude", "max_depth", "max_pages"],
    sql: ["sql_url", "sql_query", "title_template", "body_template", "key_column"],
    app: ["app_provider"],
    upload: []
  };
  var select = form.querySelector('select[name="src-kind"]');
  function update() {
    Object.keys(kinds).forEach(function (kind) {
      kinds[kind].forEach(function (name) {
        var input = form.querySelector('[name="src-' + name + '"]');
        var box = input && input.closest(".field");
        if (box) box.hidden = kind !== select.value;
      });
    });
  }
  if (select) { select.addEventListener("change", update); update(); }
})();
