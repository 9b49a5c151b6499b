// The tablet's station (remembered on the device by the station pages) goes with every sign-in.
const station = localStorage.getItem("siteflow.station") || "";
for (const input of document.querySelectorAll("[data-device-station]")) {
  input.value = station;
}
