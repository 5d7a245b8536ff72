#!/usr/bin/env node
// One conversation with Voxflow's orchestrator from Node.js (@grpc/grpc-js, @grpc/proto-loader).
//
// Streams a 16-bit PCM WAV to Orchestrator.Converse in 20 ms chunks, prints the transcripts, the
// reply and the latency breakdown, and writes the reply audio as a WAV.
//
//   npm ci && node converse.js --target 127.0.0.1:50050 --in question.wav --out reply.wav
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const CHUNK_MS = 20;
const REPLY_RATE = 16000;

function parseArgs(argv) {
  const args = {target: '127.0.0.1:50050', protoRoot: path.join(__dirname, '..', '..', 'proto')};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (flag === '--target') args.target = value();
    else if (flag === '--in') args.input = value();
    else if (flag === '--out') args.out = value();
    else if (flag === '--proto_root') args.protoRoot = value();
    else if (flag === '--realtime') args.realtime = true;
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!args.input) throw new Error('--in FILE.wav is required');
  return args;
}

// The PCM, rate and channels of a 16-bit PCM WAV (RIFF chunks walked, not assumed).
function readWav(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${file}: not a WAV file`);
  }
  let fmt = null;
  for (let at = 12; at + 8 <= buf.length;) {
    const id = buf.toString('ascii', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    if (id === 'fmt ') {
      fmt = {
        encoding: buf.readUInt16LE(at + 8),
        channels: buf.readUInt16LE(at + 10),
        rate: buf.readUInt32LE(at + 12),
        bits: buf.readUInt16LE(at + 22),
      };
    } else if (id === 'data') {
      if (!fmt || fmt.encoding !== 1 || fmt.bits !== 16) {
        throw new Error(`${file}: only 16-bit PCM WAV is supported here`);
      }
      return {pcm: buf.subarray(at + 8, at + 8 + size), rate: fmt.rate, channels: fmt.channels};
    }
    at += 8 + size + (size % 2);
  }
  throw new Error(`${file}: no audio data`);
}

function writeWav(file, pcm, rate) {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);  // PCM
  header.writeUInt16LE(1, 22);  // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(pcm.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, pcm]));
}

// The session across streams: a draining server moves it (a Reconnect event), a lost one is
// resumed. Requests go to the current stream; the audio lately sent is kept, so that what a moved
// stream did not use (past Reconnect.audio_bytes_used) goes again on the next.
class FollowingCall {
  constructor(client, config, deadline, handlers) {
    this.client = client;
    this.config = {...config, follows_moves: true};
    this.deadline = deadline;
    this.handlers = handlers;  // onEvent(event), onEnd(), onError(error)
    this.sent = [];  // [stream offset after the chunk, request]: this stream's newest audio.
    this.streamBytes = 0;
    this.token = '';
    this.resumes = 0;
    this.failedStarts = 0;
    this.ended = false;
    this.endOfInput = null;
    this.open([{config: this.config}]);
  }

  keep(request) {
    this.streamBytes += request.audio.data.length;
    this.sent.push([this.streamBytes, request]);
    while (this.sent.length && this.streamBytes - this.sent[0][0] > (1 << 20)) this.sent.shift();
  }

  open(first) {
    const call = this.client.Converse({deadline: this.deadline});
    this.call = call;
    let started = false;
    let used = null;
    for (const request of first) call.write(request);
    if (this.endOfInput) call.write(this.endOfInput);
    if (this.ended) call.end();
    call.on('data', (event) => {
      if (event.event === 'session_started') {
        started = true;
        this.failedStarts = 0;
        this.token = event.session_started.resume_token || this.token;
      } else if (event.event === 'reconnect') {
        this.token = event.reconnect.resume_token;
        used = event.reconnect.audio_bytes_used;
      }
      this.handlers.onEvent(event);
    });
    call.on('error', (e) => {
      if (call !== this.call) return;
      // A resumed stream that reached a server shutting down used nothing: again, after a moment
      // for the channel to pick another server.
      const unstarted = !started && this.resumes > 0;
      const lost = e.code === grpc.status.UNAVAILABLE ||
                   (unstarted && e.code === grpc.status.CANCELLED);
      if (lost && this.token && this.resumes < 10) {
        const delay = unstarted ? 50 * 2 ** Math.min(this.failedStarts++, 5) : 0;
        setTimeout(() => this.switchStream(unstarted ? 0 : null), delay);
        return;
      }
      this.handlers.onError(e);
    });
    call.on('end', () => {
      if (call !== this.call) return;
      if (used !== null) this.switchStream(used);
      else this.handlers.onEnd();
    });
  }

  // The next stream: the resume token, the audio past `used` bytes of the last (null: none).
  switchStream(used) {
    this.resumes++;
    const replay = used === null ? [] : this.sent.filter(([end]) => end > used).map(([, r]) => r);
    this.sent = [];
    this.streamBytes = 0;
    const first = [{config: {...this.config, session_id: '', resume_token: this.token}}];
    for (const request of replay) {
      this.keep(request);
      first.push(request);
    }
    this.open(first);
  }

  send(request) {
    if (request.audio) this.keep(request);
    if (request.control && request.control.type === 'END_OF_INPUT') this.endOfInput = request;
    try {
      this.call.write(request);
    } catch (e) {
      // The stream is ending (moved): the audio goes again on the next.
    }
  }

  end() {
    this.ended = true;
    this.call.end();
  }
}

function main() {
  let args, wav;
  try {
    args = parseArgs(process.argv.slice(2));
    wav = readWav(args.input);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  const definition = protoLoader.loadSync('voxflow/v1/orchestrator.proto', {
    includeDirs: [args.protoRoot], keepCase: true, longs: Number, enums: String, defaults: true,
    oneofs: true,
  });
  const v1 = grpc.loadPackageDefinition(definition).voxflow.v1;
  const client = new v1.Orchestrator(args.target, grpc.credentials.createInsecure());

  client.waitForReady(Date.now() + 5000, (err) => {
    if (err) {
      console.error(`cannot reach the orchestrator at ${args.target}`);
      process.exit(1);
    }
    const replyAudio = [];
    const replyText = {};
    const format = {format: 'PCM16', sample_rate: wav.rate, channels: wav.channels};
    const config = {input_format: format, interim_results: true,
                    output_format: {format: 'PCM16', sample_rate: REPLY_RATE, channels: 1}};
    let audioStarted = false;
    const call = new FollowingCall(client, config, Date.now() + 120000, {
      onEvent: (event) => {
        switch (event.event) {
          case 'session_started': {
            const started = event.session_started;
            const resumed = started.resumed ? ` resumed after turn ${started.last_turn_id}` : '';
            console.log(`session ${started.session_id}${resumed}: pipeline ${started.pipeline}`);
            if (!audioStarted) {
              audioStarted = true;
              sendAudio();
            }
            break;
          }
          case 'reconnect':
            console.log(`moving to another server: ${event.reconnect.reason}`);
            break;
          case 'transcript': {
            const t = event.transcript;
            console.log(t.is_final ? `you (turn ${t.turn_id}): ${t.text}` : `  ... ${t.text}`);
            break;
          }
          case 'reply_text': {
            const r = event.reply_text;
            replyText[r.turn_id] = (replyText[r.turn_id] || '') + r.text;
            if (r.is_final) console.log(`voxflow (turn ${r.turn_id}): ${replyText[r.turn_id]}`);
            break;
          }
          case 'reply_audio':
            replyAudio.push(event.reply_audio.audio.data);
            break;
          case 'error': {
            const e = event.error;
            console.log(`error (turn ${e.turn_id}, stage ${e.stage}): ${e.message}`);
            break;
          }
          case 'turn_completed': {
            const lat = event.turn_completed.latency;
            console.log(`turn ${event.turn_completed.turn_id} completed: voice-to-voice ` +
                        `${lat.voice_to_voice_ms} ms, end of speech -> final transcript ` +
                        `${lat.end_of_speech_to_final_transcript_ms} ms, llm first token ` +
                        `${lat.llm_first_token_ms} ms, tts first byte ${lat.tts_first_byte_ms} ms`);
            break;
          }
        }
      },
      onError: (e) => {
        console.error(`${args.target} answered ${grpc.status[e.code]}: ${e.details}`);
        process.exit(1);
      },
      onEnd: () => {
        if (args.out) {
          const pcm = Buffer.concat(replyAudio);
          writeWav(args.out, pcm, REPLY_RATE);
          console.log(`wrote ${args.out}: ${(pcm.length / (2 * REPLY_RATE)).toFixed(1)} s of reply audio`);
        }
      },
    });

    // Audio chunks (at real time with --realtime), then end of input and half-close.
    function sendAudio() {
      const chunk = (wav.rate * wav.channels * 2 * CHUNK_MS) / 1000;
      const start = Date.now();
      let sequence = 1;
      const next = () => {
        for (let at = (sequence - 1) * chunk; at < wav.pcm.length; at += chunk, sequence++) {
          if (args.realtime && Date.now() < start + (sequence - 1) * CHUNK_MS) {
            setTimeout(next, start + (sequence - 1) * CHUNK_MS - Date.now());
            return;
          }
          call.send({audio: {data: wav.pcm.subarray(at, at + chunk), format: 'PCM16',
                             sample_rate: wav.rate, channels: wav.channels, sequence,
                             timestamp_ms: (sequence - 1) * CHUNK_MS}});
        }
        call.send({control: {type: 'END_OF_INPUT'}});
        call.end();
      };
      next();
    }
  });
}

main();
