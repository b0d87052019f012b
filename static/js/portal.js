/* Partner Portal: small progressive enhancements. Every page works without this file.
   - Copy buttons beside anything marked data-copy (client ids, secrets shown once, tokens, keys, snippets).
   - Stacked tables (table.stack) on phones: each cell gets its column's name as a label. */
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // http:// demo hosts have no async clipboard: copy through a hidden, selected textarea.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "copy-scratch";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy") ? resolve() : reject(new Error("copy refused")); }
      catch (error) { reject(error); }
      finally { document.body.removeChild(area); }
    });
  }

  function addCopyButton(element) {
    var what = element.getAttribute("data-copy-label") || "value";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-secondary btn-small copy-button";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy " + what);
    var status = document.createElement("span");
    status.className = "sr-only";
    status.setAttribute("role", "status");
    button.addEventListener("click", function () {
      var text = element.getAttribute("data-copy") || element.textContent.trim();
      copyText(text).then(function () {
        button.textContent = "Copied";
        status.textContent = what + " copied to the clipboard";
      }, function () {
        button.textContent = "Select and copy";
        status.textContent = "Could not copy; select the text and copy it";
      });
      window.setTimeout(function () { button.textContent = "Copy"; status.textContent = ""; }, 2500);
    });
    element.insertAdjacentElement("afterend", button);
    button.insertAdjacentElement("afterend", status);
  }

  function labelStackedCells(table) {
    var names = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
      var column = 0;
      Array.prototype.forEach.call(row.children, function (cell) {
        var name = names[column];
        if (name && !cell.hasAttribute("data-label") && !cell.classList.contains("empty")) {
          cell.setAttribute("data-label", name);
        }
        column += cell.colSpan || 1;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), addCopyButton);
    Array.prototype.forEach.call(document.querySelectorAll("table.stack"), labelStackedCells);
  });
})();
