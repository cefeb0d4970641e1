"""A server that returns more tokens than ``max_tokens`` asked for is not believed: the reply is counted from
what came back, cut at the limit (budgets hold), and the run warns once. Against a fake OpenAI-compatible server
on 127.0.0.1 (no model behind it) that returns twice what it is asked for, with a matching usage count."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prunescale.cli.main import main

PIECE = "1 la\n2 e\n"   # 9 organism tokens


class _OverLong(BaseHTTPRequestHandler):
    tokenizer = None
    asked: list = []

    def log_message(self, *args):   # quiet
        pass

    def _reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._reply({"data": [{"id": "fake"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        want = 2 * body["max_tokens"]   # twice what was asked for
        ids = (self.tokenizer(PIECE, add_special_tokens=False)["input_ids"] * (want // 9 + 1))[:want]
        type(self).asked.append(body["max_tokens"])
        self._reply({"choices": [{"text": self.tokenizer.decode(ids), "finish_reason": "length"}],
                     "usage": {"completion_tokens": want}})


@pytest.fixture()
def overlong_server():
    from transformers import AutoTokenizer

    from prunescale.models.loading import resolve_path

    _OverLong.tokenizer = AutoTokenizer.from_pretrained(str(resolve_path("embedded:organism")))
    _OverLong.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OverLong)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_overlong_replies_are_cut_at_the_budget_with_one_warning(overlong_server, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "--model", "embedded:organism", "--backend", "openai", "--base-url", overlong_server,
                 "--task", "organism-chain:k=3", "--limit", "3", "--samples", "2", "--budgets", "32",
                 "--answer-tokens", "5", "--temperature", "0", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("tokens where max_tokens=") == 1 and "returned 64 tokens where max_tokens=32" in err
    cell = json.loads((out / "summary.json").read_text())["tasks"]["organism-chain:k=3"]["budgets"]["32"]
    assert cell["thinking_tokens_mean"] == 32 and cell["forced_share"] == 1.0   # not 64
    assert cell["answer_tokens_mean"] == 5 and cell["n_samples"] == 6
    assert set(_OverLong.asked) == {32, 5}

    import sqlite3

    with sqlite3.connect(out / "results.sqlite") as db:
        thinking = [r[0] for r in db.execute("SELECT thinking FROM generations")]
    assert all(len(_OverLong.tokenizer(t, add_special_tokens=False)["input_ids"]) == 32 for t in thinking)


def test_a_reply_within_the_limit_is_kept_as_it_came(overlong_server):
    """The backend alone: a reply no longer than asked is untouched; a longer one is cut and warned about once."""
    from prunescale.generate import BACKENDS, PROFILES
    from prunescale.generate.base import Sampling

    be = BACKENDS.get("openai")([overlong_server], "fake", _OverLong.tokenizer, PROFILES["organism"])
    s = Sampling(temperature=0)
    rep = be._complete("x", 4, None, 0, s)    # 8 came back
    assert rep.tokens == 4 and rep.finish == "length" and rep.text == "1 la"
    assert be._warned_over
    be._post_completion = lambda body: {"choices": [{"text": "1 la", "finish_reason": "length"}],
                                        "usage": {"completion_tokens": 4}}
    rep = be._complete("x", 4, None, 0, s)
    assert (rep.text, rep.tokens, rep.finish) == ("1 la", 4, "length")
