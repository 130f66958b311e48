// Shows the backorder text of the variant the product form selects, and follows it when
// the shopper picks another one. Themes change the selected variant in different ways:
// the form's `id` field changes (a select, radio buttons, or a hidden input a theme
// script sets), the URL's `?variant=` changes, or the theme fires `variant:change`.
// Each is a cue to look again; what is shown always comes from the form (or the URL).
(function () {
  'use strict';

  function selectedVariantId(badge) {
    var scope = badge.closest('.shopify-section') || document;
    var form = scope.querySelector('form[action*="/cart/add"]') ||
      document.querySelector('form[action*="/cart/add"]');
    var field = form && form.querySelector('[name="id"]:checked, select[name="id"], input[name="id"]:not([type="radio"])');
    if (field && field.value) return field.value;
    return new URLSearchParams(window.location.search).get('variant');
  }

  function show(badge) {
    var id = selectedVariantId(badge);
    if (!id) return;
    badge.querySelectorAll('[data-variant-id]').forEach(function (text) {
      text.hidden = text.getAttribute('data-variant-id') !== id || !text.textContent.trim();
    });
  }

  function refresh() {
    // After the theme's own handlers, which may set the hidden field or the URL.
    window.setTimeout(function () {
      document.querySelectorAll('[data-backorder-badge]').forEach(show);
    }, 0);
  }

  document.addEventListener('change', refresh);
  document.addEventListener('variant:change', refresh);
  window.addEventListener('popstate', refresh);
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', refresh);
  } else {
    refresh();
  }
})();
