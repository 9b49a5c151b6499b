// A printable page (slips, reports) prints on a tap of its button, or by itself when opened
// with #print (the observation slip after an injection).
const button = document.getElementById("print");
button.addEventListener("click", () => window.print());
if (window.location.hash === "#print") {
  window.addEventListener("load", () => window.print());
}
