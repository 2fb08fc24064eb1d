// Webcam frames as training images: the camera preview, a few classes the user names, and a
// capture button per class. Frames are drawn straight onto a canvas at the model's input size
// (the canvas does the resizing) and kept as blobs, so they go through the same decoder as a
// dropped folder. Without a camera (or permission) it says so and leaves the rest of the page alone.

export interface Captured { name: string; frames: Blob[] }

const SIDE = 96; // frames are kept a little larger than the model input; the worker averages them down

export class Webcam {
  private stream?: MediaStream;
  private readonly classes: Captured[] = [{ name: 'class 1', frames: [] }, { name: 'class 2', frames: [] }];
  private readonly canvas = document.createElement('canvas');

  constructor(private readonly panel: HTMLElement, private readonly video: HTMLVideoElement,
    private readonly list: HTMLElement, private readonly say: (msg: string, kind?: 'info' | 'error') => void) {
    this.canvas.width = this.canvas.height = SIDE;
  }

  /** Opens the camera; resolves false (with a message) when there is none or it is refused. */
  async open(): Promise<boolean> {
    if (!navigator.mediaDevices?.getUserMedia) {
      this.say('No camera access here: this browser (or an insecure page) offers no getUserMedia. Drop a folder of images instead.', 'error');
      return false;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: false });
    } catch (e) {
      const name = e instanceof DOMException ? e.name : 'Error';
      const why = name === 'NotFoundError' || name === 'OverconstrainedError' ? 'no camera was found'
        : name === 'NotAllowedError' ? 'permission to use the camera was refused'
          : name === 'NotReadableError' ? 'the camera is in use by another program' : `the camera could not be opened (${name})`;
      this.say(`No camera: ${why}. Drop a folder of images (one subfolder per class) instead.`, 'error');
      return false;
    }
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => {});
    this.panel.hidden = false;
    this.render();
    this.say('Camera on: name the classes, then capture a few frames of each.');
    return true;
  }

  close(): void {
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = undefined;
    this.panel.hidden = true;
  }

  addClass(): void {
    this.classes.push({ name: `class ${this.classes.length + 1}`, frames: [] });
    this.render();
  }

  private async capture(c: Captured): Promise<void> {
    const ctx = this.canvas.getContext('2d')!;
    const v = this.video;
    // Centre square crop of the frame, scaled down by the canvas.
    const side = Math.min(v.videoWidth, v.videoHeight);
    if (side === 0) return;
    ctx.drawImage(v, (v.videoWidth - side) / 2, (v.videoHeight - side) / 2, side, side, 0, 0, SIDE, SIDE);
    const blob = await new Promise<Blob | null>((r) => this.canvas.toBlob(r, 'image/png'));
    if (blob) c.frames.push(blob);
    this.render();
  }

  private render(): void {
    const rows = this.classes.map((c) => {
      const row = document.createElement('div');
      row.className = 'row';
      const name = Object.assign(document.createElement('input'), { value: c.name, ariaLabel: 'class name' });
      name.addEventListener('change', () => { c.name = name.value.trim() || c.name; });
      const shot = Object.assign(document.createElement('button'), { type: 'button', textContent: `Capture (${c.frames.length})` });
      shot.addEventListener('click', () => void this.capture(c));
      row.append(name, shot);
      return row;
    });
    this.list.replaceChildren(...rows);
  }

  /** The captured classes, for the decoder (an empty class is refused by name there). */
  get captured(): Captured[] {
    return this.classes.map((c) => ({ name: c.name, frames: [...c.frames] }));
  }
}
