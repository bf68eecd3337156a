// AudioWorklet processor: microphone -> PCM16 mono chunks at the session's input rate.
// The main thread creates the AudioContext at the target rate when the browser allows it; if the
// context runs at another rate, this processor low-passes and resamples itself.

const FILTER_TAPS = 33;

function lowPassTaps(cutoff) {
  // Blackman-windowed sinc; cutoff is a fraction of the source rate (0..0.5).
  const taps = new Float32Array(FILTER_TAPS);
  const mid = (FILTER_TAPS - 1) / 2;
  let sum = 0;
  for (let i = 0; i < FILTER_TAPS; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (FILTER_TAPS - 1))
      + 0.08 * Math.cos((4 * Math.PI * i) / (FILTER_TAPS - 1));
    taps[i] = sinc * w;
    sum += taps[i];
  }
  for (let i = 0; i < FILTER_TAPS; i++) taps[i] /= sum;
  return taps;
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.targetRate = opts.targetRate || 24000;
    this.step = sampleRate / this.targetRate; // source samples per output sample
    this.chunkSamples = Math.round((this.targetRate * (opts.chunkMs || 50)) / 1000);
    this.out = new Int16Array(this.chunkSamples);
    this.outLen = 0;
    this.taps = this.step > 1 ? lowPassTaps(0.45 / this.step) : null;
    this.history = new Float32Array(FILTER_TAPS); // last filtered-input samples (ring)
    this.histPos = 0;
    this.prev = 0; // previous filtered sample, for linear interpolation
    this.phase = 0; // position of the next output sample, in source samples past `prev`
    this.level = 0;
    this.port.onmessage = (e) => {
      if (e.data === 'flush') this.flush();
    };
  }

  filtered(x) {
    if (!this.taps) return x;
    this.history[this.histPos] = x;
    this.histPos = (this.histPos + 1) % FILTER_TAPS;
    let acc = 0;
    for (let i = 0, p = this.histPos; i < FILTER_TAPS; i++, p = (p + 1) % FILTER_TAPS) {
      acc += this.taps[i] * this.history[p];
    }
    return acc;
  }

  push(sample) {
    const s = Math.max(-1, Math.min(1, sample));
    this.out[this.outLen++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.outLen === this.chunkSamples) this.flush();
  }

  flush() {
    if (this.outLen === 0) return;
    const chunk = this.out.slice(0, this.outLen);
    this.port.postMessage({ pcm: chunk.buffer, level: this.level }, [chunk.buffer]);
    this.outLen = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const frames = input[0].length;
    let energy = 0;
    for (let i = 0; i < frames; i++) {
      let x = 0;
      for (let c = 0; c < input.length; c++) x += input[c][i];
      x /= input.length;
      energy += x * x;
      if (this.step === 1) {
        this.push(x);
        continue;
      }
      const y = this.filtered(x);
      // Emit every output sample that falls between `prev` (at 0) and `y` (at 1).
      while (this.phase <= 1) {
        this.push(this.prev + (y - this.prev) * this.phase);
        this.phase += this.step;
      }
      this.phase -= 1;
      this.prev = y;
    }
    this.level = Math.sqrt(energy / Math.max(frames, 1));
    return true;
  }
}

registerProcessor('warmline-capture', CaptureProcessor);
