// Calls spoken on the waiting-area screen: a chime, then the call (Web Speech API) in each of
// the screen's languages, twice. Announcements queue: one never cuts another off. Only the
// device's own voices speak (nothing needs the network); without one for a language (or without
// speech at all) the chime plays alone. Browsers keep both silent until a tap on the page
// (autoplay policy): `unlock()` runs inside that tap; `onBlocked` says when sound is still blocked.
const VOICE_LANG = { zh: "zh-CN", en: "en-GB" };
const REPEAT = 2;
const MAX_UTTERANCE_MS = 12000; // some engines never fire `end`: move on regardless

export class Announcer {
  constructor(languages, strings, root, onBlocked = () => {}) {
    this.languages = languages;
    this.strings = strings;
    this.root = root;
    this.onBlocked = onBlocked;
    this.queue = [];
    this.busy = false;
    this.count = 0;
    this.audio = null;
    if ("speechSynthesis" in window) window.speechSynthesis.getVoices(); // starts loading the list
  }

  context() {
    if (!this.audio && "AudioContext" in window) {
      this.audio = new AudioContext();
      const show = () => { this.root.dataset.audio = this.audio.state; };
      this.audio.addEventListener("statechange", show);
      show();
    }
    return this.audio;
  }

  /** Sound was turned on here before: try without a tap; a browser that blocks it says so. */
  start() {
    const audio = this.context();
    setTimeout(() => { if (!audio || audio.state !== "running") this.onBlocked(); }, 1000);
  }

  /** Inside a tap (a user gesture): resume the audio, unlock speech with a silent word, chime. */
  unlock() {
    const audio = this.context();
    if (audio) audio.resume();
    if ("speechSynthesis" in window) {
      const silent = new SpeechSynthesisUtterance(" ");
      silent.volume = 0;
      window.speechSynthesis.speak(silent);
    }
    this.chime();
  }

  announce(call) {
    this.queue.push(call);
    if (!this.busy) this.next();
  }

  async next() {
    const call = this.queue.shift();
    if (!call) {
      this.busy = false;
      return;
    }
    this.busy = true;
    this.count += 1;
    this.root.dataset.announced = String(this.count);
    if (this.context() && this.audio.state !== "running") this.onBlocked(); // not heard: invite a tap
    await this.chime();
    for (let time = 0; time < REPEAT; time += 1) {
      for (const language of this.languages) await this.speak(this.text(call, language), language);
    }
    this.next();
  }

  text(call, language) {
    const strings = this.strings[language];
    const ticket = call.ticket.split("").join(" "); // "A 0 2 3": read letter by letter, digit by digit
    return strings.call.split("{ticket}").join(ticket)
      .split("{station}").join(strings.desk[call.station] || strings.stations[call.station] || "")
      .split("{desk}").join(call.desk || "");
  }

  voice(language) {
    if (!("speechSynthesis" in window)) return null;
    const wanted = VOICE_LANG[language];
    const voices = window.speechSynthesis.getVoices().filter((voice) => voice.localService); // offline voices only
    const tag = (voice) => voice.lang.replace("_", "-");
    return voices.find((voice) => tag(voice) === wanted) || voices.find((voice) => tag(voice).startsWith(language)) || null;
  }

  speak(text, language) {
    const voice = this.voice(language);
    this.root.dataset.lastAnnouncement = text;
    if (!voice) return Promise.resolve(); // the chime alone
    return new Promise((resolve) => {
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.voice = voice;
      utterance.lang = voice.lang;
      utterance.rate = 0.9;
      const timer = setTimeout(resolve, MAX_UTTERANCE_MS);
      utterance.onend = utterance.onerror = (event) => {
        if (event.error === "not-allowed") this.onBlocked(); // no tap on this page yet
        clearTimeout(timer);
        resolve();
      };
      window.speechSynthesis.speak(utterance);
    });
  }

  chime() {
    // Two soft tones from an oscillator: no sound file to ship or to fail to load.
    try {
      const audio = this.context();
      const start = audio.currentTime + 0.05;
      [[659.25, 0], [523.25, 0.35]].forEach(([frequency, offset]) => {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, start + offset);
        gain.gain.exponentialRampToValueAtTime(0.3, start + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.6);
        osc.connect(gain).connect(audio.destination);
        osc.start(start + offset);
        osc.stop(start + offset + 0.65);
      });
    } catch (error) {
      // No audio output: the screen still shows the call.
    }
    return new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
