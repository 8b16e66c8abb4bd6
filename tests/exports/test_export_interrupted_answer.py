"""A partial answer cut by Ctrl-C is kept in the history marked as interrupted (issue 16): the log
rebuilds the requests that carried it, exports show it as the assistant turn the model was sent,
and a resumed session continues from it (user and assistant still alternate)."""

from __future__ import annotations

import json
import threading

from recording.reader import load_session
from recording.requests import canonical
from scripted_server import Reply
from tests.conftest import run_hermes
from tests.exports.test_request_rebuild import log_of, new_agent, rebuilt

MARK = "[interrupted by the user]"


def interrupted_session(scripted_llm, log_dir):
    llm = scripted_llm([Reply(content="word " * 200, chunk_delay=0.03), Reply(content="fresh"), Reply(content="back")])
    texts: list[str] = []

    def on_event(event) -> None:  # Ctrl-C once a few words are on screen
        if event.type == "text":
            texts.append(event.text)
            if len(texts) == 3:
                threading.Thread(target=agent.interrupt).start()

    agent = new_agent(llm, on_event=on_event)
    assert agent.run_conversation("talk", conversation_history=agent.messages)["status"] == "interrupted"
    agent.chat("next")
    agent.close()
    return llm, log_of(agent, log_dir)


def test_the_kept_partial_answer_is_logged_rebuilt_exported_and_resumed(scripted_llm, log_dir):
    llm, log = interrupted_session(scripted_llm, log_dir)
    kept = llm.chat_requests[1].body["messages"][2]
    assert kept["role"] == "assistant" and kept["content"].startswith("word") and kept["content"].endswith(MARK)
    # The log alone gives back the request that carried it (the cut call itself logs no llm_call).
    assert [canonical(body) for body in rebuilt(log)] == [canonical(llm.chat_requests[1].body)]
    assert [m["role"] for m in load_session(log).messages] == ["user", "assistant", "user", "assistant"]

    result = run_hermes("export", str(log), "--format", "sharegpt")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    turns = [(t["from"], t["value"]) for t in json.loads(line)["conversations"]]
    assert [who for who, _ in turns] == ["system", "human", "gpt", "human", "gpt"]
    assert turns[2][1].endswith(kept["content"]) and turns[4][1].endswith("fresh")  # after an empty <think>

    from tests.test_resume import make_agent

    resumed = make_agent(scripted_llm([Reply(content="back")]), resume=log)
    resumed.chat("and now?")
    resumed.close()
    roles = [m["role"] for m in resumed.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert resumed.messages[1]["content"] == kept["content"]
