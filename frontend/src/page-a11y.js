// Phones and assistive technology: the menu button, tables that stack into
// cards on small screens, focus on a form's first error, and print buttons.
// Each works on the server-rendered markup; without JavaScript the menu is
// simply open and tables keep their columns.

// <button class="nav-toggle" aria-controls="site-nav"> opens and closes the menu.
export function menuToggle(root = document) {
  for (const button of root.querySelectorAll(".nav-toggle[aria-controls]")) {
    const nav = root.getElementById(button.getAttribute("aria-controls"));
    if (!nav) continue;
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", () => {
      const open = !nav.classList.contains("open");
      nav.classList.toggle("open", open);
      button.setAttribute("aria-expanded", String(open));
    });
  }
}

// Every table with a header row gets data-label on its cells (the column's
// heading), so the small-screen stylesheet can show each row as a card.
export function labelTables(root = document) {
  for (const table of root.querySelectorAll("main table")) {
    const headings = Array.from(table.querySelectorAll("thead tr:first-child th"), (th) =>
      th.textContent.trim(),
    );
    if (headings.length < 2) continue;
    for (const row of table.querySelectorAll("tbody tr")) {
      Array.from(row.children).forEach((cell, index) => {
        if (cell.tagName === "TD" && !cell.dataset.label && headings[index]) {
          cell.dataset.label = headings[index];
        }
      });
    }
    table.classList.add("stackable");
  }
}

// After a refused form, focus its first invalid field (its error is read with
// it through aria-describedby), else the first error message of the page.
export function focusFirstError(root = document) {
  const field = root.querySelector('main [aria-invalid="true"]');
  if (field) {
    field.focus();
    return field;
  }
  const alert = root.querySelector("main .flash-error[role=alert]");
  if (alert) {
    if (!alert.hasAttribute("tabindex")) alert.setAttribute("tabindex", "-1");
    alert.focus();
    return alert;
  }
  return null;
}

// <button data-print hidden> appears with JavaScript and prints the page.
export function printButtons(root = document) {
  for (const button of root.querySelectorAll("[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
}
