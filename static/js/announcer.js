// Calls spoken on the waiting-area screen: a chime, then the call (Web Speech API) in each of
// the screen's languages, twice. Announcements queue: one never cuts another off. Without a
// voice for a language (or without speech at all) the chime plays alone.
const VOICE_LANG = { zh: "zh-CN", en: "en-GB" };
const REPEAT = 2;
const MAX_UTTERANCE_MS = 12000; // some engines never fire `end`: move on regardless

export class Announcer {
  constructor(languages, strings, root) {
    this.languages = languages;
    this.strings = strings;
    this.root = root;
    this.queue = [];
    this.busy = false;
    this.count = 0;
    this.audio = null;
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
    const voices = window.speechSynthesis.getVoices();
    return voices.find((voice) => voice.lang === wanted) || voices.find((voice) => voice.lang.startsWith(language)) || null;
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
      utterance.onend = utterance.onerror = () => {
        clearTimeout(timer);
        resolve();
      };
      window.speechSynthesis.speak(utterance);
    });
  }

  chime() {
    // Two soft tones from an oscillator: no sound file to ship or to fail to load.
    try {
      this.audio = this.audio || new AudioContext();
      const start = this.audio.currentTime + 0.05;
      [[659.25, 0], [523.25, 0.35]].forEach(([frequency, offset]) => {
        const osc = this.audio.createOscillator();
        const gain = this.audio.createGain();
        osc.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, start + offset);
        gain.gain.exponentialRampToValueAtTime(0.3, start + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.6);
        osc.connect(gain).connect(this.audio.destination);
        osc.start(start + offset);
        osc.stop(start + offset + 0.65);
      });
    } catch (error) {
      // No audio output: the screen still shows the call.
    }
    return new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
