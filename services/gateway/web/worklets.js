// Audio worklets of the Voxflow page: the microphone in 20 ms PCM16 frames, and the reply's
// playback queue (which stops at once on barge-in and reports what it has played).

class VoxflowCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.frameSamples = options.processorOptions.frameSamples;
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
  }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const s = Math.max(-1, Math.min(1, channel[i]));
      this.frame[this.filled++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.filled === this.frameSamples) {
        this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
        this.frame = new Int16Array(this.frameSamples);
        this.filled = 0;
      }
    }
    return true;
  }
}

class VoxflowPlayback extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = [];  // {turn, samples: Float32Array, offset}
    this.played = new Map();  // turn -> samples played
    this.totalPlayed = 0;
    this.blocks = 0;
    this.port.onmessage = (e) => {
      if (e.data.type === 'audio') {
        this.queue.push({turn: e.data.turn, samples: e.data.samples, offset: 0});
      } else if (e.data.type === 'clear') {
        this.queue = [];
      }
    };
  }
  process(inputs, outputs) {
    const out = outputs[0][0];
    let i = 0;
    while (i < out.length && this.queue.length > 0) {
      const head = this.queue[0];
      const before = this.played.get(head.turn) || 0;
      if (before === 0 && head.offset === 0) {
        this.port.postMessage({type: 'started', turn: head.turn});
      }
      const n = Math.min(out.length - i, head.samples.length - head.offset);
      out.set(head.samples.subarray(head.offset, head.offset + n), i);
      head.offset += n;
      i += n;
      this.played.set(head.turn, before + n);
      this.totalPlayed += n;
      if (head.offset === head.samples.length) this.queue.shift();
    }
    out.fill(0, i);
    // About every 100 ms, what has been played (the page reports it to the server).
    if (++this.blocks % 12 === 0 && this.played.size > 0) {
      this.port.postMessage({type: 'played', played: Array.from(this.played.entries()),
                             total: this.totalPlayed});
    }
    return true;
  }
}

registerProcessor('voxflow-capture', VoxflowCapture);
registerProcessor('voxflow-playback', VoxflowPlayback);
