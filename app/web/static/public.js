// Status and supplier pages: a form with data-confirm asks before it is sent (the strict
// CSP of these pages allows no inline handlers).
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
