// The Voxflow page: the microphone to /v1/converse, the reply back to the speakers.
// window.voxflow holds what happened, for people and for the browser test.
'use strict';

const RATE = 16000;
const FRAME_MS = 20;
const state = window.voxflow = {
  status: 'idle', finals: [], replies: {}, turns: {}, errors: [], samplesPlayed: 0,
  framesSent: 0, closed: null,
};
const $ = (id) => document.getElementById(id);

let ws = null, context = null, playback = null, micStream = null;
let replyTurn = 0;
const sendTimes = [];  // Frame index -> performance.now() when sent.
const speechEnd = {};  // turn -> when the caller's last voiced frame was sent.
let lastPlaybackReport = 0;
const reported = {};  // turn -> samples played when last reported.

function setStatus(text) { state.status = text; $('status').textContent = text; }
function say(cls, text) {
  const p = document.createElement('p');
  p.className = cls;
  p.textContent = text;
  $('log').appendChild(p);
  return p;
}
function turnRow(turn) {
  if (!state.turns[turn]) {
    state.turns[turn] = {pageV2vMs: null, serverV2vMs: null};
    const tr = document.createElement('tr');
    tr.id = 'turn-' + turn;
    tr.innerHTML = '<td>' + turn + '</td><td class="page">…</td><td class="server">…</td>';
    $('turns').querySelector('tbody').appendChild(tr);
  }
  return $('turn-' + turn);
}

async function start() {
  $('start').disabled = true;
  setStatus('starting');
  micStream = await navigator.mediaDevices.getUserMedia({
    audio: {echoCancellation: true, noiseSuppression: true, channelCount: 1},
  });
  context = new AudioContext({sampleRate: RATE});
  await context.audioWorklet.addModule('/worklets.js');
  const capture = new AudioWorkletNode(context, 'voxflow-capture', {
    processorOptions: {frameSamples: RATE * FRAME_MS / 1000},
  });
  playback = new AudioWorkletNode(context, 'voxflow-playback', {outputChannelCount: [1]});
  playback.connect(context.destination);
  context.createMediaStreamSource(micStream).connect(capture);
  playback.port.onmessage = onPlayback;

  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  ws = new WebSocket(scheme + '//' + location.host + '/v1/converse' +
                     (token ? '?token=' + encodeURIComponent(token) : ''));
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => {
    const format = {format: 'PCM16', sampleRate: RATE, channels: 1};
    const config = {inputFormat: format, outputFormat: format, interimResults: true};
    for (const field of ['pipeline', 'voice', 'language']) {
      const value = ($(field) && $(field).value) || params.get(field);
      if (value) config[field] = value;
    }
    ws.send(JSON.stringify(config));
    capture.port.onmessage = (e) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      sendTimes[state.framesSent++] = performance.now();
      ws.send(e.data);
    };
    setStatus('listening');
    $('stop').disabled = false;
  };
  ws.onmessage = onMessage;
  ws.onclose = (e) => {
    state.closed = {code: e.code, reason: e.reason};
    setStatus('closed (' + e.code + (e.reason ? ': ' + e.reason : '') + ')');
    stopAudio();
  };
}

function onMessage(e) {
  if (typeof e.data !== 'string') {
    const pcm = new Int16Array(e.data);
    const samples = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 0x8000;
    playback.port.postMessage({type: 'audio', turn: replyTurn, samples}, [samples.buffer]);
    return;
  }
  const event = JSON.parse(e.data);
  if (event.sessionStarted) {
    state.sessionId = event.sessionStarted.sessionId;
  } else if (event.transcript) {
    if (event.transcript.isFinal) {
      $('interim').textContent = '';
      if (event.transcript.text) {
        state.finals.push(event.transcript.text);
        say('you', 'You: ' + event.transcript.text);
      }
    } else {
      $('interim').textContent = event.transcript.text || '';
    }
  } else if (event.replyText) {
    const turn = event.replyText.turnId;
    if (!(turn in state.replies)) {
      state.replies[turn] = '';
      state.replyElement = say('agent', 'Agent: ');
    }
    state.replies[turn] += event.replyText.text || '';
    state.replyElement.textContent = 'Agent: ' + state.replies[turn];
  } else if (event.replyAudio) {
    replyTurn = event.replyAudio.turnId;  // The binary frames that follow speak this turn.
  } else if (event.userSpeech) {
    if (event.userSpeech.type === 'STOPPED') {
      const frame = Math.max(0, Math.ceil(Number(event.userSpeech.streamMs || 0) / FRAME_MS) - 1);
      speechEnd[event.userSpeech.turnId] = sendTimes[Math.min(frame, sendTimes.length - 1)];
    }
  } else if (event.telemetry) {
    const name = event.telemetry.name;
    if (name === 'turn.reply_paused' || name === 'turn.interrupted') {
      playback.port.postMessage({type: 'clear'});  // Barge-in: silence at once.
    }
  } else if (event.turnCompleted) {
    const done = event.turnCompleted;
    const v2v = Number((done.latency || {}).voiceToVoiceMs);
    const row = turnRow(done.turnId);
    if (v2v >= 0) {
      state.turns[done.turnId].serverV2vMs = v2v;
      row.querySelector('.server').textContent = v2v;
    }
  } else if (event.error) {
    state.errors.push(event.error.message);
    say('error', 'Error: ' + event.error.message);
  }
}

function onPlayback(e) {
  if (e.data.type === 'started') {
    const turn = e.data.turn;
    const row = turnRow(turn);
    if (speechEnd[turn] !== undefined && state.turns[turn].pageV2vMs === null) {
      const v2v = Math.round(performance.now() - speechEnd[turn]);
      state.turns[turn].pageV2vMs = v2v;
      row.querySelector('.page').textContent = v2v;
    }
  } else if (e.data.type === 'played') {
    state.samplesPlayed = e.data.total;
    const now = performance.now();
    if (ws && ws.readyState === WebSocket.OPEN && now - lastPlaybackReport >= 200) {
      lastPlaybackReport = now;
      for (const [turn, samples] of e.data.played) {
        if (reported[turn] === samples) continue;  // Only what moved since the last report.
        reported[turn] = samples;
        ws.send(JSON.stringify({playback: {turnId: turn,
                                           playedMs: Math.floor(samples * 1000 / RATE)}}));
      }
    }
  }
}

function stopAudio() {
  if (micStream) micStream.getTracks().forEach((t) => t.stop());
  micStream = null;
  $('start').disabled = false;
  $('stop').disabled = true;
}

// The server's pipelines and voices fill the selectors.
async function describe() {
  const token = new URLSearchParams(location.search).get('token');
  const reply = await fetch('/v1/describe',
                            {headers: token ? {Authorization: 'Bearer ' + token} : {}});
  if (!reply.ok) throw new Error('describe: HTTP ' + reply.status);
  const info = await reply.json();
  state.describe = info;
  for (const pipeline of info.pipelines || []) {
    const option = new Option(pipeline.name + ' (' + (pipeline.stages || []).join(' → ') + ')',
                              pipeline.name);
    option.selected = pipeline.name === info.defaultPipeline;
    $('pipeline').add(option);
  }
  for (const voice of info.voices || []) {
    $('voice').add(new Option(voice.name + ' — ' + (voice.languages || []).join(', ') +
                              (voice.provider ? ' (' + voice.provider + ')' : ''), voice.name));
  }
}
describe().catch((err) => say('error', String(err)));

$('start').onclick = () => start().catch((err) => {
  state.errors.push(String(err));
  say('error', String(err));
  setStatus('failed');
  $('start').disabled = false;
});
$('stop').onclick = () => { if (ws) ws.close(1000, 'stopped'); };
