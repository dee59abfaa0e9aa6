// The hold page's ticket type per seat and code field: POST the choice, then show the hold again
// (the server fixes each seat's price, discount and fee; the page never computes money).

import { api, describe } from "./api.js";

const root = document.getElementById("hold-page");
const form = root?.querySelector("[data-pricing]");

if (form) {
  const error = form.querySelector("[data-pricing-error]");
  const url = `${root.dataset.holdUrl}/pricing`;

  async function apply(event) {
    event?.preventDefault();
    const ticketTypes = [...form.querySelectorAll("[data-seat-type]")].map((select) => ({
      seat_id: Number(select.dataset.seatType),
      ticket_type_id: Number(select.value),
    }));
    const codes = form.querySelector("[data-codes]").value.split(/[\s,]+/).filter(Boolean);
    error.hidden = true;
    try {
      await api("POST", url, { ticket_types: ticketTypes, codes });
      location.reload();
    } catch (exc) {
      error.textContent = describe(exc);
      error.hidden = false;
    }
  }

  form.addEventListener("submit", apply);
  form.querySelectorAll("[data-seat-type]").forEach((select) => select.addEventListener("change", apply));
}
