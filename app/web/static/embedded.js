// Inside Shopify admin (App Bridge loaded): every fetch, every form submission and every
// link within the app carries a fresh session token, which the server checks instead of
// a cookie (third-party cookies are blocked in the admin iframe). Fetches send it as
// `Authorization: Bearer`, forms and links as `id_token`. Notices become App Bridge toasts.
(function () {
  "use strict";
  if (!window.shopify || typeof window.shopify.idToken !== "function") { return; }
  const shopify = window.shopify;

  function sameOrigin(url) {
    return new URL(url, window.location.href).origin === window.location.origin;
  }

  // A document load from the admin without a token (the bounce page): come back with one.
  if (document.querySelector("[data-bounce]")) {
    shopify.idToken().then(function (token) {
      const url = new URL(window.location.href);
      url.searchParams.set("id_token", token);
      window.location.replace(url.toString());
    });
    return;
  }

  const fetchWithoutToken = window.fetch.bind(window);
  window.fetch = async function (resource, options) {
    const request = new Request(resource, options);
    if (!sameOrigin(request.url) || request.headers.has("Authorization")) {
      return fetchWithoutToken(request);
    }
    const headers = new Headers(request.headers);
    headers.set("Authorization", "Bearer " + await shopify.idToken());
    return fetchWithoutToken(new Request(request, { headers: headers }));
  };

  document.querySelectorAll("[data-toast]").forEach(function (notice) {
    if (shopify.toast && typeof shopify.toast.show === "function") {
      shopify.toast.show(notice.textContent.trim(), { isError: notice.dataset.toast === "error" });
      notice.hidden = true;
    }
  });

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
    input.value = await shopify.idToken();
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
    if (!link || !sameOrigin(link.href) || link.hasAttribute("download")) { return; }
    event.preventDefault();
    const url = new URL(link.href);
    url.searchParams.set("id_token", await shopify.idToken());
    window.location.assign(url.toString());
  });
})();
