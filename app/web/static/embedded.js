// Inside Shopify admin (App Bridge loaded): every form submission and every link
// within the app carries a fresh session token as `id_token`, which the server
// checks instead of a cookie (third-party cookies are blocked in the admin iframe).
(function () {
  "use strict";
  if (!window.shopify || typeof window.shopify.idToken !== "function") { return; }

  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (form.dataset.tokened === "1") { return; }
    event.preventDefault();
    let input = form.querySelector('input[name="id_token"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = "id_token";
      form.appendChild(input);
    }
    input.value = await window.shopify.idToken();
    form.dataset.tokened = "1";
    if (event.submitter && event.submitter.name) {
      const pressed = document.createElement("input");
      pressed.type = "hidden";
      pressed.name = event.submitter.name;
      pressed.value = event.submitter.value;
      form.appendChild(pressed);
    }
    form.submit();
  });

  document.addEventListener("click", async function (event) {
    const link = event.target.closest("a[href]");
    if (!link || link.origin !== window.location.origin || link.hasAttribute("download")) { return; }
    event.preventDefault();
    const url = new URL(link.href);
    url.searchParams.set("id_token", await window.shopify.idToken());
    window.location.assign(url.toString());
  });
})();
