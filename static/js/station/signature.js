// A signature pad on a canvas: finger, stylus or mouse (pointer events), sent as a PNG data URL.
export class SignaturePad {
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.empty = true;
    this.drawing = false;
    canvas.style.touchAction = "none"; // the finger draws, it does not scroll the page
    canvas.addEventListener("pointerdown", (event) => this.start(event));
    canvas.addEventListener("pointermove", (event) => this.move(event));
    for (const name of ["pointerup", "pointerleave", "pointercancel"]) canvas.addEventListener(name, () => { this.drawing = false; });
    this.clear();
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * (this.canvas.width / box.width), (event.clientY - box.top) * (this.canvas.height / box.height)];
  }

  start(event) {
    this.drawing = true;
    this.canvas.setPointerCapture(event.pointerId);
    const [x, y] = this.point(event);
    this.context.beginPath();
    this.context.moveTo(x, y);
  }

  move(event) {
    if (!this.drawing) return;
    const [x, y] = this.point(event);
    this.context.lineTo(x, y);
    this.context.stroke();
    this.empty = false;
  }

  clear() {
    const { context, canvas } = this;
    context.fillStyle = "#fff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.lineWidth = 3;
    context.lineCap = "round";
    context.strokeStyle = "#111";
    this.empty = true;
  }

  dataUrl() {
    return this.canvas.toDataURL("image/png");
  }
}
