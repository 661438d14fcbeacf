"""`rewardkit view`: the static HTML report in a real headless Chromium: no console errors, no network,
its content matches the run, filters work, and model output is shown as text, never run as markup."""

from __future__ import annotations

import re

import pytest
from browser import ARGS, require_browser

from rewardkit.cli.main import main
from rewardkit.evaluation.rundir import latest_records, read_metadata

pytestmark = pytest.mark.browser

HOSTILE = "</script><script>alert('pwned')</script><!-- <img src=x onerror=alert(2)>"
REPLIES = {
    ("toy.answer", "test-0", 0): "0",
    ("toy.answer", "test-0", 1): HOSTILE,
    ("toy.answer", "test-1", 0): ("1", "length"),
    ("toy.answer", "test-1", 1): "5",
    ("toy.answer", "test-2", 0): "2",
    ("toy.answer", "test-2", 1): "2",
}


@pytest.fixture
def page():
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        context = browser.new_context()
        page = context.new_page()
        page.problems = []  # console errors and warnings, page errors, dialogs, network requests
        page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(m.text))
        page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
        page.on("dialog", lambda d: (page.problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("request", lambda r: r.url.startswith("file:") or page.problems.append(f"request {r.url}"))
        yield page
        browser.close()


def _open(page, run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["view", str(run)])
    assert exit_info.value.code in (0, None)
    assert "report.html" in capsys.readouterr().out
    report = run / "report.html"
    page.goto(report.resolve().as_uri())
    page.wait_for_selector("body[data-ready='1']")
    return report


def _count(page) -> str:
    return page.text_content("#count")


def test_report_in_headless_chromium(make_run, page, capsys):
    run = make_run(REPLIES, rollouts=2)
    report = _open(page, run, capsys)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", report.read_text())  # nothing to fetch
    metadata = read_metadata(run)
    m = metadata["metrics"]["environments"]["toy.answer"]

    cells = page.locator("#metrics tbody tr[data-env='toy.answer'] td").all_text_contents()
    headers = page.locator("#metrics thead th").all_text_contents()
    row = dict(zip(headers, cells, strict=True))
    assert row["prompts"] == "3" and row["rollouts"] == "6"
    assert row["pass@1"] == f"{m['pass_at_k']['1']:.3f}" == "0.667"
    assert row["pass@2"] == f"{m['pass_at_k']['2']:.3f}"
    assert row["maj@2"] == f"{m['maj_at_k']['2']:.3f}"
    assert row["truncated"] == "16.7%"
    assert page.locator("#passk path[data-env='toy.answer']").count() == 1
    bars = [
        int(c) for c in page.locator("#histogram rect").evaluate_all("rs => rs.map(r => r.dataset.count)")
    ]
    assert sum(bars) == 6 and bars[0] == 2 and bars[-1] == 4

    assert _count(page).startswith("6 of 6 rollouts match")
    assert page.locator("#rollouts tbody tr.row").count() == 6
    page.select_option("#filter-verdict", "pass")
    assert _count(page).startswith("4 of 6")
    assert set(
        page.locator("#rollouts tbody tr.row").evaluate_all("rs => rs.map(r => r.dataset.verdict)")
    ) == {"pass"}
    page.select_option("#filter-verdict", "")
    page.select_option("#filter-stop", "length")
    assert _count(page).startswith("1 of 6")
    page.select_option("#filter-stop", "")
    page.fill("#filter-min", "0.5")
    assert _count(page).startswith("4 of 6")
    page.fill("#filter-min", "")

    # The hostile reply is found as text, shown as text, and ran nothing.
    page.fill("#filter-text", "pwned")
    assert _count(page).startswith("1 of 6")
    page.click("#rollouts tbody tr.row")
    detail = page.locator("#rollouts tr.detail")
    assert HOSTILE in detail.text_content()
    assert "chars" in detail.locator("table.components").text_content()
    records = latest_records(run)
    assert records[("toy.answer", "test-0", 1)].result.info["parsed_answer"] == HOSTILE.strip()
    assert page.locator("img").count() == 0
    assert page.problems == []


def test_report_of_several_environments_and_a_continuous_reward(toys, stub_factory, tmp_path, page, capsys):
    from eval_helpers import scripted

    from rewardkit.evaluation import parse_eval_config
    from rewardkit.evaluation.run import evaluate

    replies = {("toy.answer", f"test-{i}", 0): str(i % 2) for i in range(3)}
    replies |= {("toy.graded", f"g-{i}", 0): "ab" for i in range(2)}
    stub = stub_factory(scripted(replies))
    config = {"model": "m", "environments": [{"name": "toy.answer"}, {"name": "toy.graded"}]}
    run = tmp_path / "two"
    evaluate(parse_eval_config({**config, "endpoint": {"base_url": stub.base_url}}), run)
    _open(page, run, capsys)
    envs = page.locator("#metrics tbody tr").evaluate_all("rs => rs.map(r => r.dataset.env)")
    assert envs == ["toy.answer", "toy.graded", "overall"]
    graded = page.locator("#metrics tbody tr[data-env='toy.graded'] td").all_text_contents()
    assert "max 0.500" in graded
    page.select_option("#filter-env", "toy.graded")
    assert _count(page).startswith("2 of 5")
    page.select_option("#hist-env", "toy.graded")
    bars = page.locator("#histogram rect").evaluate_all("rs => rs.map(r => Number(r.dataset.count))")
    assert bars[5] == 2 and sum(bars) == 2
    assert page.problems == []


def test_report_shows_an_episode_turn_by_turn(toys, stub_factory, tmp_path, page, capsys):
    from rewardkit.evaluation import parse_eval_config
    from rewardkit.evaluation.run import evaluate

    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"key": "0"}'}}

    def model(body):
        results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
        return results[-1] if results else {"tool_calls": [call]}

    stub = stub_factory(model)
    config = {"model": "m", "environments": [{"name": "toy.lookup", "num_prompts": 1}]}
    run = tmp_path / "episode"
    evaluate(parse_eval_config({**config, "endpoint": {"base_url": stub.base_url}}), run)
    _open(page, run, capsys)
    headers = page.locator("#rollouts thead th").all_text_contents()
    cells = page.locator("#rollouts tbody tr.row td").all_text_contents()
    assert dict(zip(headers, cells, strict=True))["turns"] == "2"
    page.click("#rollouts tbody tr.row")
    detail = page.locator("#rollouts tr.detail")
    roles = detail.locator(".message .role").all_text_contents()
    assert roles == ["user", "assistant · turn 1", "tool result · lookup", "assistant · turn 2"]
    assert detail.locator(".message.tool pre").first.text_content() == "value-0"
    shown = detail.locator(".message.assistant .tool-call").text_content()
    assert shown == '→ call lookup({"key": "0"})  [c1]'
    assert page.problems == []
