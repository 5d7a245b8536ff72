#!/usr/bin/python3
"""The browser page end to end, in a real browser.

Starts the STT (pocketsphinx), TTS (espeak-ng), orchestrator (rule model) and gateway servers
as `make run` does, and Debian's Chromium, headless, with a fake microphone that plays a WAV of
a spoken question (espeak-ng, through the TTS service). The test drives the browser over the
DevTools protocol on a pipe (--remote-debugging-pipe: no library needed), opens the page the
gateway serves, presses Start and reads the page's own state (window.voxflow): a final
transcript, the reply text, reply audio played by the playback worklet, and the voice-to-voice
the page measured beside the server's. It keeps a screenshot of the page as a test output.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import wave

CHROMIUM = "/usr/lib/chromium/chromium"  # The binary: /usr/bin/chromium's wrapper closes fd 3/4.


def stop(process):
    """SIGTERM, then SIGKILL if it is still there after 15 s."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


class Server:
    """A Voxflow server binary on free loopback ports; the ports from its start-up lines."""

    def __init__(self, binary, *args):
        self.log = tempfile.NamedTemporaryFile(prefix=os.path.basename(binary), suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen([binary, "--host=127.0.0.1", "--port=0", *args],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.port = self.http_port = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{binary} exited: see {self.log.name}")
            if " http on " in line:
                self.http_port = int(line.rsplit(":", 1)[1])
            if " listening on " in line:
                self.port = int(line.rsplit(":", 1)[1])
                return
        raise RuntimeError(f"{binary} did not start")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        stop(self.proc)


class Chromium:
    """Headless Chromium driven over the DevTools pipe (JSON messages ended by NUL)."""

    def __init__(self, microphone_wav, user_dir):
        to_chrome_read, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_write = os.pipe()

        def pipes():
            # Chromium reads commands on fd 3 and writes on fd 4.
            a, b = os.dup(to_chrome_read), os.dup(from_chrome_write)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        os.makedirs(user_dir, exist_ok=True)
        self.log = open(os.path.join(user_dir, "chromium.log"), "w")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={user_dir}", "--remote-debugging-pipe",
             "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-audio-capture={microphone_wav}",
             "--autoplay-policy=no-user-gesture-required", "about:blank"],
            close_fds=False, preexec_fn=pipes, stdout=subprocess.DEVNULL, stderr=self.log)
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self.next_id = 0
        self.buffer = b""

    def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply["result"]
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        raise TimeoutError(method)

    def stop(self):
        stop(self.proc)


def microphone_wav(path, voxctl, tts_address, text):
    """`text` spoken by espeak-ng (the TTS service), 1.5 s of silence before and 12 s after."""
    spoken = path + ".speech.wav"
    subprocess.run([voxctl, "synthesize", text, "--out", spoken, "--sample_rate=16000",
                    f"--target={tts_address}"], check=True, stdout=subprocess.DEVNULL)
    with wave.open(spoken) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(rate * 1.5) + frames + b"\0\0" * int(rate * 12))


class BrowserTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="browser_test")
        self.servers = []
        stt = self.start("services/stt/stt_server")
        tts = self.start("services/tts/tts_server")
        orchestrator = self.start("services/orchestrator/orchestrator_server",
                                  f"--stt_target={stt.address}", f"--tts_target={tts.address}")
        self.gateway = self.start("services/gateway/gateway_server", "--http_port=0",
                                  f"--orchestrator_target={orchestrator.address}")
        self.wav = os.path.join(self.tmp, "microphone.wav")
        microphone_wav(self.wav, "tools/voxctl/voxctl", tts.address, "what time is it")

    def start(self, binary, *args):
        server = Server(binary, *args)
        self.servers.append(server)
        return server

    def tearDown(self):
        for server in reversed(self.servers):
            server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_the_page_answers_a_spoken_question(self):
        browser = Chromium(self.wav, os.path.join(self.tmp, "profile"))
        try:
            url = f"http://127.0.0.1:{self.gateway.http_port}/"
            target = browser.call("Target.createTarget", {"url": url})["targetId"]
            session = browser.call("Target.attachToTarget",
                                   {"targetId": target, "flatten": True})["sessionId"]

            def evaluate(expression):
                result = browser.call("Runtime.evaluate",
                                      {"expression": expression, "returnByValue": True,
                                       "awaitPromise": True, "userGesture": True}, session)
                return result["result"].get("value")

            def wait_for(predicate, what, timeout=60):
                deadline = time.time() + timeout
                while time.time() < deadline:
                    state = json.loads(evaluate("JSON.stringify(window.voxflow || null)") or
                                       "null")
                    if state and predicate(state):
                        return state
                    time.sleep(0.25)
                self.fail(f"{what}: page state {state}")

            # The selectors are filled from the server before the caller starts.
            state = wait_for(lambda s: "describe" in s, "the page never described the server")
            self.assertIn("voice_chat", [p["name"] for p in state["describe"]["pipelines"]])
            self.assertGreater(evaluate("document.getElementById('voice').options.length"), 1)
            evaluate("document.getElementById('start').click(), true")

            def answered(s):
                return any(t.get("pageV2vMs") is not None and t.get("serverV2vMs") is not None
                           for t in s["turns"].values()) and s["samplesPlayed"] > 8000
            state = wait_for(answered, "no spoken answer on the page")
            self.assertEqual(state["errors"], [])
            self.assertTrue(state["finals"] and state["finals"][0].strip(), state)
            turn, figures = next((t, f) for t, f in state["turns"].items()
                                 if f["pageV2vMs"] is not None and f["serverV2vMs"] is not None)
            self.assertTrue(state["replies"].get(turn, "").strip(), state)
            shown = evaluate(f"document.querySelector('#turn-{turn} .page').textContent")
            self.assertEqual(shown, str(figures["pageV2vMs"]))
            print(f"heard: {state['finals'][0]!r}; reply: {state['replies'][turn]!r}; "
                  f"samples played: {state['samplesPlayed']}; voice-to-voice: page "
                  f"{figures['pageV2vMs']} ms, server {figures['serverV2vMs']} ms")

            png = base64.b64decode(browser.call("Page.captureScreenshot", {}, session)["data"])
            outputs = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR", self.tmp)
            with open(os.path.join(outputs, "browser_page.png"), "wb") as f:
                f.write(png)
            print(f"screenshot: {os.path.join(outputs, 'browser_page.png')}")
        finally:
            browser.stop()


if __name__ == "__main__":
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is missing: scripts/bootstrap installs Debian's chromium")
    unittest.main(verbosity=2)
