// Progressive enhancements only: every page works without this file.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  // Copy buttons next to URLs and credentials.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var text = source ? source.textContent : "";
      var done = function (label) {
        button.textContent = label;
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { done("Copied"); },
          function () { done("Select and copy"); }
        );
      } else {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        done("Selected: press Ctrl+C");
      }
    });
  });

  // Confirm destructive forms.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // Busy state on long forms (validation).
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) { button.textContent = form.getAttribute("data-busy"); button.setAttribute("aria-busy", "true"); }
    });
  });

  // Move focus to an error summary so screen readers announce it.
  var focus = document.querySelector("[data-focus]");
  if (focus) { focus.focus(); }

  // Test Bloomreach access without leaving the page.
  document.querySelectorAll("form[data-check-url]").forEach(function (form) {
    var button = form.querySelector("button[data-check]");
    var result = document.getElementById("check-result");
    if (!button || !result) { return; }
    button.addEventListener("click", function (event) {
      event.preventDefault();
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      result.textContent = "Testing…";
      var body = new URLSearchParams(new FormData(form));
      fetch(form.getAttribute("data-check-url"), {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrfToken(form), "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok) { throw new Error("the console answered " + response.status); }
        return response.json();
      }).then(function (report) {
        result.textContent = "";
        var line = document.createElement("p");
        line.className = report.ok ? "ok" : "fail";
        line.textContent = (report.ok ? "✔ " : "✘ ") + report.detail;
        result.appendChild(line);
        if (!report.ok && report.remedy) {
          var remedy = document.createElement("p");
          remedy.className = "remedy";
          remedy.textContent = report.remedy;
          result.appendChild(remedy);
        }
      }).catch(function (error) {
        result.textContent = "The test could not run: " + error.message;
      }).finally(function () {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      });
    });
  });

  // Mapping table: add rows beyond the blank ones the page brings.
  var addRow = document.querySelector("button[data-add-row]");
  var table = document.getElementById("mapping-table");
  if (addRow && table) {
    addRow.hidden = false;
    addRow.addEventListener("click", function () {
      var rows = table.querySelectorAll("tr[data-row]");
      var last = rows[rows.length - 1];
      var index = rows.length;
      var copy = last.cloneNode(true);
      copy.querySelectorAll("[id],[for],[name]").forEach(function (el) {
        ["id", "for", "name", "aria-describedby"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) { el.setAttribute(attr, value.replace(/_\d+/g, "_" + index)); }
        });
        if (el.tagName === "INPUT") { el.value = ""; el.removeAttribute("aria-invalid"); }
        if (el.tagName === "SELECT") { el.selectedIndex = 0; }
      });
      copy.querySelectorAll("p.error").forEach(function (p) { p.hidden = true; p.textContent = ""; });
      last.parentNode.appendChild(copy);
      copy.querySelector("select").focus();
    });
  }

  // Inline checks of patterned fields: a fixed value clears its message as it is typed (so
  // the layout does not move under the pointer on submit); a wrong one is flagged on change.
  document.querySelectorAll("input[pattern]").forEach(function (input) {
    var error = document.getElementById(input.id + "-error");
    if (!error) { return; }
    input.addEventListener("input", function () {
      if (!input.validity.patternMismatch) {
        input.removeAttribute("aria-invalid");
        error.hidden = true;
      }
    });
    input.addEventListener("change", function () {
      if (input.value && input.validity.patternMismatch) {
        input.setAttribute("aria-invalid", "true");
        error.hidden = false;
        error.textContent = input.id.indexOf("target_") === 0
          ? "Write properties.<name> or ids.<name>, e.g. properties.first_name."
          : "This value does not have the expected form.";
      }
    });
  });

  // Operations: refresh the numbers without reloading the page.
  var stats = document.querySelector("[data-stats-url]");
  if (stats) {
    var url = stats.getAttribute("data-stats-url");
    var every = parseFloat(stats.getAttribute("data-refresh-seconds") || "5") * 1000;
    var note = stats.querySelector("[data-refreshed]");
    var format = function (seconds) {
      if (seconds < 90) { return Math.round(seconds) + " s"; }
      if (seconds < 5400) { return Math.round(seconds / 60) + " min"; }
      return (seconds / 3600).toFixed(1) + " h";
    };
    var refresh = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (data) {
          Object.keys(data.counts).forEach(function (state) {
            var cell = stats.querySelector('[data-stat="' + state + '"]');
            if (cell && cell.textContent !== String(data.counts[state])) {
              cell.textContent = String(data.counts[state]);
            }
          });
          var oldest = stats.querySelector('[data-stat="oldest"]');
          if (oldest) { oldest.textContent = format(data.oldest_pending_age_seconds); }
          if (note) { note.textContent = "Updated " + new Date().toLocaleTimeString() + "."; }
        })
        .catch(function () {
          if (note) { note.textContent = "Could not refresh; retrying."; }
        })
        .finally(function () { setTimeout(refresh, every); });
    };
    setTimeout(refresh, every);
  }
})();
