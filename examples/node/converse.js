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
    const call = client.Converse({deadline: Date.now() + 120000});
    const replyAudio = [];
    const replyText = {};
    call.on('data', (event) => {
      switch (event.event) {
        case 'session_started':
          console.log(`session ${event.session_started.session_id}: pipeline ` +
                      `${event.session_started.pipeline}`);
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
    });
    call.on('error', (e) => {
      console.error(`${args.target} answered ${grpc.status[e.code]}: ${e.details}`);
      process.exit(1);
    });
    call.on('end', () => {
      if (args.out) {
        const pcm = Buffer.concat(replyAudio);
        writeWav(args.out, pcm, REPLY_RATE);
        console.log(`wrote ${args.out}: ${(pcm.length / (2 * REPLY_RATE)).toFixed(1)} s of reply audio`);
      }
    });

    const format = {format: 'PCM16', sample_rate: wav.rate, channels: wav.channels};
    call.write({config: {input_format: format, interim_results: true,
                         output_format: {format: 'PCM16', sample_rate: REPLY_RATE, channels: 1}}});
    const chunk = (wav.rate * wav.channels * 2 * CHUNK_MS) / 1000;
    let sequence = 1;
    for (let at = 0; at < wav.pcm.length; at += chunk, sequence++) {
      call.write({audio: {data: wav.pcm.subarray(at, at + chunk), format: 'PCM16',
                          sample_rate: wav.rate, channels: wav.channels, sequence,
                          timestamp_ms: (sequence - 1) * CHUNK_MS}});
    }
    call.write({control: {type: 'END_OF_INPUT'}});
    call.end();
  });
}

main();
