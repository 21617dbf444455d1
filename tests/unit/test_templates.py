"""Message templates: the defaults render today's messages byte for byte, an operator's file
is found by alert name, then source, then the default, every channel escapes what it writes,
the limits hold whatever a template writes, and a broken template is refused naming its file
and line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver import config, markup, messages, templates
from receiver.channels import registry
from receiver.model import Claimed, Kind, Link
from tests.support import REPO
from tests.unit import reference_layouts as reference
from tests.unit.test_render import RISK, claimed

LINKS = [
    Link("History", "http://127.0.0.1:9095/history/42", "history"),
    Link("Runbook", "http://127.0.0.1:9095/runbooks/GlobalGuardDailyLossLimit", "runbook"),
    Link("Graph", "http://127.0.0.1:9090/graph?g0.expr=up&g0.tab=1", "graph"),
    Link("New silence", "http://127.0.0.1:9093/#/silences/new?filter=%7B%7D", "silence"),
]
ENDED = datetime(2026, 11, 24, 3, 7, tzinfo=UTC)
HOSTILE = 'Up"bit \\ line\nnext <!channel> <http://x|y> <b>&amp; & </code>'


def seed(**overrides: Any) -> Claimed:
    """The seed's P0, with every part a layout shows: scope labels, metrics, risk, mentions."""
    values: dict[str, Any] = dict(
        severity="P0",
        source="RiskGuard",
        alertname="GlobalGuardDailyLossLimit",
        title="GlobalGuard BLOCK",
        labels={"engine": "d75", "tier": "global", "severity": "P0"},
        annotations={
            "description": "Reason: Global Daily Loss Limit\nDaily Loss: $55,000 / $50,000 (limit)",
            "metrics": "Metrics:\n  - Portfolio: $945,000",
            "action": "Trading HALTED until next day",
            "risk": RISK,
        },
        mentions=("@d76_lead", "U0123ABCD"),
    )
    values.update(overrides)
    return claimed(**values)


def kinds(item: Claimed) -> list[Claimed]:
    """The item as every kind a template lays out."""
    resolved = replace(item, kind=Kind.RESOLVED, status="resolved", ends_at=ENDED)
    return [
        replace(item, kind=Kind.FIRING),
        resolved,
        replace(resolved, firing_told=False),
        replace(item, kind=Kind.REMINDER),
        replace(item, kind=Kind.ESCALATION),
    ]


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def restore_registry() -> Iterator[None]:
    before = registry.templates_in_use()
    yield
    registry.use_templates(before)


# -- the defaults are today's layouts -----------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        *kinds(seed()),
        *kinds(claimed()),
        *kinds(seed(annotations={"description": "&" * 10_000, "action": "<" * 900})),
        *kinds(seed(title="x" * 500, labels={"exchange": "&" * 300, "route": "A-B-C"})),
        *kinds(seed(annotations={"emoji": "🔴", "description": "Exchange: Upbit"})),
        *kinds(seed(labels={}, annotations={}, mentions=())),
        *kinds(seed(labels={k: HOSTILE for k in messages.SCOPE_LABELS}, title=HOSTILE)),
    ],
    ids=lambda item: str(item.kind),
)
def test_the_default_templates_render_the_reference_layouts_byte_for_byte(item: Claimed) -> None:
    notes = ["✅ Acknowledged by @alice at 21:31 UTC"]
    assert templates.telegram_text(item, LINKS, notes) == reference.telegram_text(
        item, LINKS, notes
    )
    assert templates.telegram_text(item) == reference.telegram_text(item)
    assert json.dumps(templates.slack_body(item, LINKS)) == json.dumps(
        reference.slack_body(item, LINKS)
    )
    assert templates.email_html(item, LINKS) == reference.email_html(item, LINKS)
    assert templates.plain_text(item, LINKS) == reference.plain_text(item, LINKS)


TEXT = st.text(st.sampled_from(list("ab &<>\"'\\\n;#é🔴:|!@*_~`")), max_size=40)
LONG = st.one_of(
    TEXT,
    st.builds(lambda c, n: c * n, st.sampled_from(["&", "x", "<", "a\n"]), st.integers(0, 5000)),
)


@st.composite
def alerts(draw: st.DrawFn) -> Claimed:
    labels = st.dictionaries(st.sampled_from([*messages.SCOPE_LABELS, "severity"]), LONG)
    annotations = st.dictionaries(
        st.sampled_from(["description", "metrics", "action", "risk", "emoji"]), LONG
    )
    return claimed(
        kind=draw(st.sampled_from(list(templates.KINDS))),
        severity=draw(st.sampled_from(["P0", "P1", "P2", "P3", "none", "P<9>"])),
        source=draw(LONG),
        alertname=draw(LONG),
        title=draw(LONG),
        ends_at=draw(st.sampled_from([None, ENDED])),
        labels=draw(labels),
        annotations=draw(annotations),
        firing_told=draw(st.booleans()),
        mentions=draw(st.lists(st.sampled_from(["@lead", "U0123ABCD"]), max_size=2)),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alerts(), st.lists(st.sampled_from(LINKS), max_size=4), st.lists(TEXT, max_size=2))
def test_the_defaults_match_the_reference_on_generated_alerts(
    item: Claimed, links: list[Link], notes: list[str]
) -> None:
    ours, theirs = (
        templates.telegram_text(item, links, notes),
        reference.telegram_text(item, links, notes),
    )
    if len(theirs) <= messages.TELEGRAM_LIMIT:
        assert ours == theirs
    else:  # the links and notes alone were over the limit: now cut to it, tags closed
        assert len(ours) == messages.TELEGRAM_LIMIT or len(ours) < len(theirs)
        assert len(ours) <= messages.TELEGRAM_LIMIT
        assert markup.telegram_html_problem(ours) is None
    assert json.dumps(templates.slack_body(item, links)) == json.dumps(
        reference.slack_body(item, links)
    )
    assert templates.email_html(item, links) == reference.email_html(item, links)
    assert templates.plain_text(item, links) == reference.plain_text(item, links)


# -- lookup --------------------------------------------------------------------------------------

NAME_LINE = '{% extends "default/telegram.html.j2" %}{% block head %}BY NAME\n{% endblock %}'
SOURCE_LINE = '{% extends "default/telegram.html.j2" %}{% block head %}BY SOURCE\n{% endblock %}'


def test_an_alerts_own_file_comes_before_its_sources_then_the_default(tmp_path: Path) -> None:
    found = templates.load(
        write(
            tmp_path,
            {
                "telegram/GlobalGuardDailyLossLimit.html.j2": NAME_LINE,
                "telegram/source-RiskGuard.html.j2": SOURCE_LINE,
                "telegram/_GlobalGuardExposureLimit.html.j2": "A PARTIAL",
            },
        )
    )
    head = lambda item: found.telegram_text(item).splitlines()[0]  # noqa: E731
    assert head(seed()) == "BY NAME"
    assert head(seed(alertname="GlobalGuardExposureLimit")) == "BY SOURCE", "a partial is no match"
    assert head(seed(alertname="X", source="CrossSync")) == "🔴 <b>[P0] GlobalGuard BLOCK</b>"
    assert found.template_for("telegram", seed()) == "telegram/GlobalGuardDailyLossLimit.html.j2"
    assert found.template_for("slack", seed()) == "default/slack.json.j2", "per channel"
    assert found.overrides == [
        "telegram/GlobalGuardDailyLossLimit.html.j2",
        "telegram/source-RiskGuard.html.j2",
    ]


def test_a_small_override_changes_one_block_and_keeps_the_rest(tmp_path: Path) -> None:
    found = templates.load(write(tmp_path, {"telegram/GlobalGuardDailyLossLimit.html.j2": """\
{% extends "default/telegram.html.j2" %}
{% block action %}
{{ super() -}}
Call the risk desk: {{ alert.labels.engine }}
{% endblock %}
"""}))  # fmt: skip
    for item in kinds(seed()):
        default = templates.telegram_text(item, LINKS).splitlines()
        ours = found.telegram_text(item, LINKS).splitlines()
        added = ours.index("Call the risk desk: d75")
        assert ours[:added] + ours[added + 1 :] == default
        action = [i for i, line in enumerate(default) if line.startswith("Action: ")]
        assert added == (action[0] + 1 if action else default.index(RISK.splitlines()[0]))


def test_the_documented_example_loads_and_adds_its_line() -> None:
    found = templates.load(REPO / "docs" / "examples" / "templates")
    text = found.telegram_text(seed(), LINKS).splitlines()
    at = text.index("Action: Trading HALTED until next day")
    assert text[at + 1] == "☎️ Risk desk: +82 2 555 0100 (around the clock), engine d75"
    assert "Risk desk" not in found.telegram_text(seed(alertname="GlobalGuardExposureLimit"))


def test_the_directory_is_relative_to_the_config_directory(
    config_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert config.load().templates.directory == REPO / "config" / "templates"
    assert config.Settings().templates.directory is None, "settings built in code: defaults"
    (tmp_path / "receiver.yml").write_text("templates: {directory: layouts}\n")
    config_env.setenv("D76_CONFIG_DIR", str(tmp_path))
    assert config.load().templates.directory == tmp_path / "layouts"
    (tmp_path / "receiver.yml").write_text(f"templates: {{directory: {tmp_path / 'abs'}}}\n")
    assert config.load().templates.directory == tmp_path / "abs"
    assert templates.load(tmp_path / "missing").overrides == [], "no directory: the defaults"


def test_the_registry_lays_messages_out_with_the_templates_in_use(
    tmp_path: Path, restore_registry: None
) -> None:
    assert registry.kind_of("telegram").message(seed(), []).text == templates.telegram_text(seed())
    registry.use_templates(
        templates.load(write(tmp_path, {"telegram/GlobalGuardDailyLossLimit.html.j2": NAME_LINE}))
    )
    head = lambda target: registry.kind_of(target).message(seed(), []).text.split("\n")[0]  # noqa: E731
    assert head("telegram") == head("telegram_escalation") == "BY NAME"
    assert registry.kind_of("slack_alerts").message(seed(), []).body == templates.slack_body(seed())


# -- escaping per channel ------------------------------------------------------------------------

PRINTS_LABELS = {
    "telegram/A.html.j2": "<b>{{ alert.labels.exchange }}</b> {{ alert.title }}",
    "slack/A.json.j2": """{"text": "{{ alert.labels.exchange }}", "attachments": [{"blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*{{ alert.title|within(50) }}*"}},
        {"type": "section", "fields": {{ [alert.labels.exchange, alert.title]|tojson }}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "{{ description|fit }}"}]},
    ]}]}""",
    "email/A.html.j2": "<p title='{{ alert.labels.exchange }}'>{{ alert.title|nl2br }}</p>",
    "email/A.txt.j2": "{{ alert.labels.exchange }}",
}


def hostile(**overrides: Any) -> Claimed:
    return seed(
        alertname="A",
        title=HOSTILE,
        labels={"exchange": HOSTILE},
        annotations={"description": HOSTILE},
        **overrides,
    )


@pytest.fixture
def printing(tmp_path: Path) -> templates.Templates:
    return templates.load(write(tmp_path, PRINTS_LABELS))


def test_telegram_escapes_values_as_telegram_html(printing: templates.Templates) -> None:
    for text in (printing.telegram_text(hostile()), templates.telegram_text(hostile())):
        assert markup.telegram_html_problem(text) is None, text
        assert "&lt;b&gt;&amp;amp; &amp; &lt;/code&gt;" in text
        assert 'Up"bit' in text, "quotes stay as they are in Telegram's HTML"


def test_slack_values_break_neither_the_json_nor_into_mentions_or_links(
    printing: templates.Templates,
) -> None:
    slack_text = messages.slack_escape(HOSTILE)
    for each in (printing.slack_body(hostile()), templates.slack_body(hostile())):
        strings = json.dumps(each, ensure_ascii=False)
        assert "<!channel>" not in strings and "<http://x|y>" not in strings
        assert "&lt;!channel&gt;" in strings and "&lt;http://x|y&gt;" in strings
    body = printing.slack_body(hostile())
    blocks = body["attachments"][0]["blocks"]
    assert body["text"] == slack_text, "quotes, backslash and newline survive the JSON whole"
    assert blocks[0]["text"]["text"] == "*" + messages.slack_within(HOSTILE, 50) + "*"
    assert blocks[1]["fields"] == [slack_text, slack_text], "tojson escapes for Slack too"
    assert blocks[2]["elements"][0]["text"] == slack_text
    field = templates.slack_body(hostile())["attachments"][0]["blocks"][1]["fields"][0]  # type: ignore[index]
    assert field["text"] == f"*Exchange:* {slack_text}"


def test_email_html_escapes_quotes_too_and_text_keeps_values_as_they_are(
    printing: templates.Templates,
) -> None:
    page = printing.email_html(hostile())
    assert page.startswith("<p title='Up&quot;bit \\ line\nnext &lt;!channel&gt;")
    assert "line<br>next" in page
    assert "<b>" not in page and "&lt;b&gt;" in page
    assert printing.email_text(hostile()) == HOSTILE


# -- limits after rendering ----------------------------------------------------------------------


def test_an_operators_long_telegram_message_is_cut_to_the_limit_closing_its_tags(
    tmp_path: Path,
) -> None:
    found = templates.load(write(tmp_path, {"telegram/A.html.j2": (
        "<b>{{ alert.title }}</b>\n<i>{% for n in range(3000) %}{{ alert.labels.exchange }} "
        "{% endfor %}</i>\n<code>tail</code>"
    )}))  # fmt: skip
    text = found.telegram_text(seed(alertname="A", labels={"exchange": "A&B"}))
    assert len(text) <= messages.TELEGRAM_LIMIT
    assert text.endswith("…</i>")
    assert markup.telegram_html_problem(text) is None, "no split entity, every tag closed"


def test_an_operators_slack_section_is_cut_to_3000_without_splitting_an_entity(
    tmp_path: Path,
) -> None:
    found = templates.load(write(tmp_path, {"slack/A.json.j2": (
        '{"text": "x", "attachments": [{"blocks": ['
        '{"type": "section", "text": {"type": "mrkdwn", "text": "{{ description }}"}}]}]}'
    )}))  # fmt: skip
    body = found.slack_body(seed(alertname="A", annotations={"description": "&" * 4000}))
    text = body["attachments"][0]["blocks"][0]["text"]["text"]
    assert len(text) <= markup.SLACK_SECTION_LIMIT
    assert text.endswith("&amp;…") and text.count("&amp;") == text.count("&")


def test_json_templates_may_end_every_block_with_a_comma() -> None:
    assert markup.drop_trailing_commas('{"a": [1, 2,\n ], "s": "x,]", "t": "\\",}",\n}') == (
        '{"a": [1, 2\n ], "s": "x,]", "t": "\\",}"\n}'
    )


# -- the start-up check --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "line", "says"),
    [
        ({"telegram/A.html.j2": "ok\n{% if x %}\nnever closed\n"}, 3, "Unexpected end of template"),
        ({"telegram/A.html.j2": "ok\n\n{{ alert.titel }}\n"}, 3, "alert has no attribute 'titel'"),
        ({"telegram/A.html.j2": "{{ title }}"}, 1, "'title' is undefined"),
        ({"slack/A.json.j2": '{"text": "{{ x|nope }}"}'}, 1, "No filter named 'nope'"),
        (
            {"email/A.txt.j2": "fine\n{% if kind == 'escalation' %}{{ 1 // 0 }}{% endif %}"},
            2,
            "integer division or modulo by zero (rendering a escalation message)",
        ),
        (
            {
                "telegram/_parts.html.j2": "{% macro row(x) %}\n{{ x.nothing.deeper }}\n"
                "{% endmacro %}",
                "telegram/A.html.j2": '{% import "telegram/_parts.html.j2" as p %}'
                "{{ p.row(alert) }}",
            },
            2,
            "no attribute 'nothing'",
        ),
    ],
)
def test_a_broken_template_is_refused_naming_its_file_and_line(
    tmp_path: Path, files: dict[str, str], line: int, says: str
) -> None:
    with pytest.raises(templates.TemplateError) as refused:
        templates.load(write(tmp_path, files))
    error = refused.value
    assert error.line == line
    assert says in error.message
    assert str(error).startswith(f"templates: {tmp_path}/")
    assert f".j2:{line}: " in str(error)
    assert isinstance(error, config.ConfigError), "the same path as any settings error"


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("telegram/A.txt.j2", "x", "not a template name"),
        ("telgram/A.html.j2", "x", "not a template name"),
        ("telegram/deep/A.html.j2", "x", "not a template name"),
        ("slack/A.json.j2", '{"text": "a" "b"}', "renders no valid JSON"),
        ("slack/A.json.j2", '["not", "a payload"]', 'a JSON object with a "text" string'),
        ("slack/A.json.j2", '{"text": "{{ alert.title|safe }}"}', "renders no valid JSON"),
        (
            "slack/A.json.j2",  # "cleaned" by hand for JSON, not for Slack
            """{"text": "{{ alert.title|replace('"', '')|replace('\\\\', '')"""
            """|replace('\\n', ' ')|safe }}"}""",
            "reaches Slack unescaped",
        ),
        ("telegram/A.html.j2", "<b>{{ alert.title }}", "<b> is never closed"),
        ("telegram/A.html.j2", "R&D {{ alert.title }}", "a bare &"),
        ("telegram/A.html.j2", "<table>{{ alert.title }}</table>", "not a tag Telegram knows"),
    ],
)
def test_a_template_whose_output_the_channel_refuses_is_refused(
    tmp_path: Path, name: str, text: str, says: str
) -> None:
    with pytest.raises(templates.TemplateError) as refused:
        templates.load(write(tmp_path, {name: text}))
    assert says in str(refused.value)
    assert str(refused.value).startswith(f"templates: {tmp_path / name}: ")


def test_not_utf8_is_refused_and_hidden_or_other_files_are_left_alone(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": "notes", "telegram/.A.html.j2.swp": "{{", ".git/x.j2": "{%"})
    assert templates.load(tmp_path).overrides == []
    (tmp_path / "telegram" / "A.html.j2").write_bytes(b"\xff\xfe")
    with pytest.raises(templates.TemplateError, match="not UTF-8"):
        templates.load(tmp_path)


def test_a_missing_label_is_empty_but_a_field_of_alert_must_exist(tmp_path: Path) -> None:
    found = templates.load(
        write(tmp_path, {"telegram/A.html.j2": "[{{ alert.labels.nothing }}]{{ alert.title }}"})
    )
    assert found.telegram_text(seed(alertname="A")) == "[]GlobalGuard BLOCK"


def test_a_template_that_fails_on_a_real_alert_falls_back_to_the_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    found = templates.load(write(tmp_path, {"telegram/A.html.j2": (
        "{% if alert.labels.exchange == 'Boom' %}{{ 1 // 0 }}{% endif %}custom"
    )}))  # fmt: skip
    assert found.telegram_text(seed(alertname="A")) == "custom"
    boom = seed(alertname="A", labels={"exchange": "Boom"})
    with caplog.at_level(logging.ERROR, logger="d76.templates"):
        assert found.telegram_text(boom) == templates.telegram_text(boom)
    assert f"templates: {tmp_path}/telegram/A.html.j2:1: integer division" in caplog.text
    with pytest.raises(templates.TemplateError, match=r"A\.html\.j2:1: integer division"):
        found.try_alert(boom)


def test_a_reload_keeps_the_templates_in_use_when_the_new_ones_fail(
    tmp_path: Path, restore_registry: None
) -> None:
    from receiver.delivery import reload_templates

    directory = write(tmp_path, {"telegram/GlobalGuardDailyLossLimit.html.j2": NAME_LINE})
    settings = config.Settings(templates=config.MessageTemplates(directory=directory))
    assert reload_templates(settings)
    assert registry.templates_in_use().telegram_text(seed()).startswith("BY NAME\n")
    write(directory, {"telegram/GlobalGuardDailyLossLimit.html.j2": "{% block head %}broken"})
    assert not reload_templates(settings)
    assert registry.templates_in_use().telegram_text(seed()).startswith("BY NAME\n")
    write(directory, {"telegram/GlobalGuardDailyLossLimit.html.j2": SOURCE_LINE})
    assert reload_templates(settings)
    assert registry.templates_in_use().telegram_text(seed()).startswith("BY SOURCE\n")
