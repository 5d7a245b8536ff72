#!/usr/bin/python3
"""One conversation with Voxflow's orchestrator from Python.

Streams a 16-bit PCM WAV to Orchestrator.Converse in 20 ms chunks (or sends a typed turn with
--text), prints the transcripts, the reply and the latency breakdown, and writes the reply audio
as a WAV. With --tools the model may call this client's own functions over the same stream: the
orchestrator sends a ToolCall event, the client runs the function and answers with a ToolResult
request, and the reply goes on with the result. Uses Debian's python3-grpcio; the Python stubs are
generated at start-up from proto/ with Debian's protoc and grpc_python_plugin (the versions that
match that grpcio).

  /usr/bin/python3 examples/python/converse.py --target 127.0.0.1:50050 \
      --in question.wav --out reply.wav
  /usr/bin/python3 examples/python/converse.py --text "What time is it in Tokyo?" --tools
"""

import argparse
import datetime
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import wave
import zoneinfo

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "proto")
CHUNK_MS = 20
REPLY_RATE = 16000


def load_stubs(proto_root):
    """Generates voxflow.v1's Python modules into a temporary directory and imports them."""
    out = tempfile.mkdtemp(prefix="voxflow_py_")
    protos = [os.path.join("voxflow", "v1", f)
              for f in ("audio.proto", "stt.proto", "tts.proto", "orchestrator.proto")]
    subprocess.run(
        ["/usr/bin/protoc", "-I" + proto_root, "--python_out=" + out, "--grpc_out=" + out,
         "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin"] + protos,
        check=True)
    sys.path.insert(0, out)
    from voxflow.v1 import orchestrator_pb2, orchestrator_pb2_grpc, audio_pb2  # noqa: E402
    return audio_pb2, orchestrator_pb2, orchestrator_pb2_grpc


# The tools this client offers the model: what it declares, and the functions that answer.
def get_time(arguments):
    """The current time in an IANA time zone (default UTC)."""
    name = arguments.get("timezone") or "UTC"
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}")
    now = datetime.datetime.now(zone)
    return {"timezone": name, "time": now.strftime("%H:%M"), "date": now.strftime("%Y-%m-%d")}


TOOLS = {
    "get_time": (get_time, "The current time and date in a time zone.", {
        "type": "object",
        "properties": {"timezone": {"type": "string", "description": "IANA name, e.g. Asia/Tokyo"}},
    }),
}


def tool_specs(pb):
    return [pb.ToolSpec(name=name, description=description, parameters_json=json.dumps(schema))
            for name, (_, description, schema) in TOOLS.items()]


def run_tool(pb, call):
    """Runs one ToolCall; the ToolResult request that answers it."""
    function = TOOLS.get(call.name, (None,))[0]
    try:
        if function is None:
            raise ValueError(f"no tool named {call.name}")
        arguments = json.loads(call.arguments_json or "{}")
        return pb.ConverseRequest(tool_result=pb.ToolResult(
            id=call.id, content_json=json.dumps(function(arguments))))
    except (ValueError, TypeError) as e:
        return pb.ConverseRequest(tool_result=pb.ToolResult(id=call.id, error=str(e)))


def send_audio(session, pb, audio_pb, pcm, rate, channels, realtime):
    """Audio chunks (at real time with --realtime), then end of input and half-close."""
    chunk = rate * channels * 2 * CHUNK_MS // 1000
    start = time.monotonic()
    for seq, at in enumerate(range(0, len(pcm), chunk), start=1):
        if realtime:
            time.sleep(max(0.0, start + (seq - 1) * CHUNK_MS / 1000 - time.monotonic()))
        session.send(pb.ConverseRequest(audio=audio_pb.AudioChunk(
            data=pcm[at:at + chunk], format=audio_pb.PCM16, sample_rate=rate, channels=channels,
            sequence=seq, timestamp_ms=(seq - 1) * CHUNK_MS)))
    session.send(pb.ConverseRequest(control=pb.Control(type=pb.Control.END_OF_INPUT)))
    session.close()


class FollowingCall:
    """The session across streams: a draining server moves it (a Reconnect event), a lost one is
    resumed. Requests go to the current stream; the audio lately sent is kept, so that what a
    moved stream did not use (past Reconnect.audio_bytes_used) goes again on the next."""

    MAX_RESUMES = 10
    KEEP_BYTES = 1 << 20

    def __init__(self, grpc, stub, pb, config):
        self.grpc, self.stub, self.pb = grpc, stub, pb
        config.follows_moves = True
        self.config = config
        self.lock = threading.Lock()
        self.sent = []  # (stream offset after the chunk, request): this stream's newest audio.
        self.stream_bytes = 0
        self.ended = False  # The caller half-closed.
        self.end_of_input = None
        self.token = ""
        self.resumes = 0
        self.outbox = queue.Queue()
        self.outbox.put(pb.ConverseRequest(config=config))

    def _keep(self, request):
        self.stream_bytes += len(request.audio.data)
        self.sent.append((self.stream_bytes, request))
        while self.sent and self.stream_bytes - self.sent[0][0] > self.KEEP_BYTES:
            self.sent.pop(0)

    def send(self, request):
        with self.lock:
            if request.HasField("audio"):
                self._keep(request)
            if request.HasField("control") and request.control.type == self.pb.Control.END_OF_INPUT:
                self.end_of_input = request
            self.outbox.put(request)

    def close(self):
        with self.lock:
            self.ended = True
            self.outbox.put(None)

    @staticmethod
    def _requests(outbox):
        while (request := outbox.get()) is not None:
            yield request

    def _switch(self, used):
        """The next stream's requests: the resume token, the audio past `used` bytes of the last
        stream (None: none of it), the end of input if it was sent; the old stream's end."""
        config = self.pb.SessionConfig()
        config.CopyFrom(self.config)
        config.session_id = ""
        config.resume_token = self.token
        outbox = queue.Queue()
        outbox.put(self.pb.ConverseRequest(config=config))
        with self.lock:
            replay = [r for end, r in self.sent if used is not None and end > used]
            self.sent, self.stream_bytes = [], 0
            for request in replay:
                self._keep(request)
                outbox.put(request)
            if self.end_of_input is not None:
                outbox.put(self.end_of_input)
            if self.ended:
                outbox.put(None)
            self.outbox.put(None)
            self.outbox = outbox
        return self._requests(outbox)

    def events(self, timeout):
        """Every event of every stream of the session."""
        requests = self._requests(self.outbox)
        failed_starts = 0
        while True:
            started, used = False, None
            try:
                for event in self.stub.Converse(requests, timeout=timeout):
                    kind = event.WhichOneof("event")
                    if kind == "session_started":
                        started, failed_starts = True, 0
                        self.token = event.session_started.resume_token or self.token
                    elif kind == "reconnect":
                        self.token = event.reconnect.resume_token
                        used = event.reconnect.audio_bytes_used
                    yield event
            except self.grpc.RpcError as e:
                codes = self.grpc.StatusCode
                unstarted = not started and self.resumes > 0
                if not (e.code() == codes.UNAVAILABLE or (unstarted and e.code() == codes.CANCELLED)):
                    raise
                if not self.token or self.resumes >= self.MAX_RESUMES:
                    raise
                if unstarted:
                    # A resumed stream that reached a server shutting down used nothing: again,
                    # after a moment for the channel to pick another server.
                    time.sleep(0.05 * (2 ** min(failed_starts, 5)))
                    failed_starts += 1
                    used = 0
            else:
                if used is None:
                    return  # The conversation ended.
            self.resumes += 1
            requests = self._switch(used)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:50050")
    parser.add_argument("--in", dest="input", help="16-bit PCM WAV")
    parser.add_argument("--text", help="a typed turn instead of --in")
    parser.add_argument("--tools", action="store_true",
                        help="offer the model this client's tools (get_time)")
    parser.add_argument("--out", help="where to write the reply WAV")
    parser.add_argument("--realtime", action="store_true", help="send at real time")
    parser.add_argument("--proto_root", default=PROTO_ROOT)
    args = parser.parse_args()
    if (args.input is None) == (args.text is None):
        parser.error("give one of --in or --text")

    pcm, rate, channels = b"", 16000, 1
    if args.input:
        try:
            with wave.open(args.input, "rb") as wav:
                if wav.getsampwidth() != 2:
                    sys.exit(f"{args.input}: only 16-bit PCM WAV is supported here")
                rate, channels = wav.getframerate(), wav.getnchannels()
                pcm = wav.readframes(wav.getnframes())
        except (OSError, wave.Error) as e:
            sys.exit(f"{args.input}: {e}")

    import grpc
    audio_pb, pb, pb_grpc = load_stubs(args.proto_root)
    channel = grpc.insecure_channel(args.target)
    try:
        grpc.channel_ready_future(channel).result(timeout=5)
    except grpc.FutureTimeoutError:
        sys.exit(f"cannot reach the orchestrator at {args.target}")
    stub = pb_grpc.OrchestratorStub(channel)

    fmt = audio_pb.AudioStreamFormat(format=audio_pb.PCM16, sample_rate=rate, channels=channels)
    out_fmt = audio_pb.AudioStreamFormat(format=audio_pb.PCM16, sample_rate=REPLY_RATE, channels=1)
    config = pb.SessionConfig(input_format=fmt, output_format=out_fmt, interim_results=True)
    if args.tools:
        config.llm.tools.extend(tool_specs(pb))
    # Requests go through the call: audio from a sender thread, tool results from the event loop.
    session = FollowingCall(grpc, stub, pb, config)
    events = session.events(timeout=120)
    if args.text:
        session.send(pb.ConverseRequest(text=pb.TextInput(text=args.text)))

    def start_audio():
        threading.Thread(target=send_audio, daemon=True,
                         args=(session, pb, audio_pb, pcm, rate, channels, args.realtime)).start()

    reply_audio = bytearray()
    reply_text = {}
    try:
        for event in events:
            kind = event.WhichOneof("event")
            if kind == "session_started":
                started = event.session_started
                resumed = f" resumed after turn {started.last_turn_id}" if started.resumed else ""
                print(f"session {started.session_id}{resumed}: pipeline {started.pipeline}")
                if not args.text and session.resumes == 0:
                    start_audio()
            elif kind == "reconnect":
                print(f"moving to another server: {event.reconnect.reason}")
            elif kind == "transcript":
                t = event.transcript
                print(f"you (turn {t.turn_id}): {t.text}" if t.is_final else f"  ... {t.text}")
            elif kind == "tool_call":
                call = event.tool_call
                answer = run_tool(pb, call)
                result = answer.tool_result
                print(f"tool {call.name}({call.arguments_json}) -> "
                      f"{result.content_json or 'error: ' + result.error}")
                session.send(answer)
            elif kind == "reply_text":
                r = event.reply_text
                reply_text[r.turn_id] = reply_text.get(r.turn_id, "") + r.text
                if r.is_final:
                    print(f"voxflow (turn {r.turn_id}): {reply_text[r.turn_id]}")
            elif kind == "reply_audio":
                reply_audio += event.reply_audio.audio.data
            elif kind == "error":
                e = event.error
                print(f"error (turn {e.turn_id}, stage {e.stage}): {e.message}")
            elif kind == "turn_completed":
                done = event.turn_completed
                lat = done.latency
                print(f"turn {done.turn_id} completed: voice-to-voice "
                      f"{lat.voice_to_voice_ms} ms, end of speech -> final transcript "
                      f"{lat.end_of_speech_to_final_transcript_ms} ms, llm first token "
                      f"{lat.llm_first_token_ms} ms, tts first byte {lat.tts_first_byte_ms} ms, "
                      f"tokens {done.llm_usage.prompt_tokens}+{done.llm_usage.completion_tokens}")
                if args.text:
                    session.close()  # The typed turn is answered: half-close.
    except grpc.RpcError as e:
        sys.exit(f"{args.target} answered {e.code().name}: {e.details()}")

    if args.out:
        with wave.open(args.out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(REPLY_RATE)
            wav.writeframes(bytes(reply_audio))
        print(f"wrote {args.out}: {len(reply_audio) / (2 * REPLY_RATE):.1f} s of reply audio")


if __name__ == "__main__":
    main()
