// The slip prints itself when opened with #print (after an injection); the button prints on a tap.
const button = document.getElementById("print");
button.addEventListener("click", () => window.print());
if (window.location.hash === "#print") {
  window.addEventListener("load", () => window.print());
}
