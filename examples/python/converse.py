#!/usr/bin/python3
"""One conversation with Voxflow's orchestrator from Python.

Streams a 16-bit PCM WAV to Orchestrator.Converse in 20 ms chunks, prints the transcripts, the
reply and the latency breakdown, and writes the reply audio as a WAV. Uses Debian's python3-grpcio;
the Python stubs are generated at start-up from proto/ with Debian's protoc and
grpc_python_plugin (the versions that match that grpcio).

  /usr/bin/python3 examples/python/converse.py --target 127.0.0.1:50050 \
      --in question.wav --out reply.wav
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "proto")
CHUNK_MS = 20
REPLY_RATE = 16000


def load_stubs(proto_root):
    """Generates voxflow.v1's Python modules into a temporary directory and imports them."""
    out = tempfile.mkdtemp(prefix="voxflow_py_")
    protos = [os.path.join("voxflow", "v1", f) for f in ("audio.proto", "stt.proto", "orchestrator.proto")]
    subprocess.run(
        ["/usr/bin/protoc", "-I" + proto_root, "--python_out=" + out, "--grpc_out=" + out,
         "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin"] + protos,
        check=True)
    sys.path.insert(0, out)
    from voxflow.v1 import orchestrator_pb2, orchestrator_pb2_grpc, audio_pb2  # noqa: E402
    return audio_pb2, orchestrator_pb2, orchestrator_pb2_grpc


def requests(pb, audio_pb, pcm, rate, channels, realtime):
    """The client's side of the stream: config, audio chunks, end of input."""
    fmt = audio_pb.AudioStreamFormat(format=audio_pb.PCM16, sample_rate=rate, channels=channels)
    out_fmt = audio_pb.AudioStreamFormat(format=audio_pb.PCM16, sample_rate=REPLY_RATE, channels=1)
    yield pb.ConverseRequest(config=pb.SessionConfig(
        input_format=fmt, output_format=out_fmt, interim_results=True))
    chunk = rate * channels * 2 * CHUNK_MS // 1000
    start = time.monotonic()
    for seq, at in enumerate(range(0, len(pcm), chunk), start=1):
        if realtime:
            time.sleep(max(0.0, start + (seq - 1) * CHUNK_MS / 1000 - time.monotonic()))
        yield pb.ConverseRequest(audio=audio_pb.AudioChunk(
            data=pcm[at:at + chunk], format=audio_pb.PCM16, sample_rate=rate, channels=channels,
            sequence=seq, timestamp_ms=(seq - 1) * CHUNK_MS))
    yield pb.ConverseRequest(control=pb.Control(type=pb.Control.END_OF_INPUT))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:50050")
    parser.add_argument("--in", dest="input", required=True, help="16-bit PCM WAV")
    parser.add_argument("--out", help="where to write the reply WAV")
    parser.add_argument("--realtime", action="store_true", help="send at real time")
    parser.add_argument("--proto_root", default=PROTO_ROOT)
    args = parser.parse_args()

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

    reply_audio = bytearray()
    reply_text = {}
    try:
        for event in stub.Converse(requests(pb, audio_pb, pcm, rate, channels, args.realtime),
                                   timeout=120):
            kind = event.WhichOneof("event")
            if kind == "session_started":
                print(f"session {event.session_started.session_id}: pipeline "
                      f"{event.session_started.pipeline}")
            elif kind == "transcript":
                t = event.transcript
                print(f"you (turn {t.turn_id}): {t.text}" if t.is_final else f"  ... {t.text}")
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
                lat = event.turn_completed.latency
                print(f"turn {event.turn_completed.turn_id} completed: voice-to-voice "
                      f"{lat.voice_to_voice_ms} ms, end of speech -> final transcript "
                      f"{lat.end_of_speech_to_final_transcript_ms} ms, llm first token "
                      f"{lat.llm_first_token_ms} ms, tts first byte {lat.tts_first_byte_ms} ms")
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
