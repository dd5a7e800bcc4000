"""The Connect to Kafka dialog: inline validation, remembered non-secret values, the settings it produces, the test."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog

from flowviz.sources.kafka_decoders import default_live_workers
from flowviz.sources.kafka_publish import create_topic, free_port
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.ui.connect_dialog import SETTINGS_PREFIX, ConnectDialog, bootstrap_problem, parse_topics
from flowviz.ui.start_page import StartPage

SECRET = "s3cret-Pa55"


@pytest.fixture
def isolated_settings(qapp, tmp_path):
    """QSettings in an INI file under tmp_path, under a test organisation (never the user's own settings)."""
    names = qapp.organizationName(), qapp.applicationName()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    qapp.setOrganizationName("flowviz-tests")
    qapp.setApplicationName("connect-dialog")
    yield tmp_path / "settings"
    qapp.setOrganizationName(names[0])
    qapp.setApplicationName(names[1])


@pytest.fixture
def properties(tmp_path) -> Path:
    path = tmp_path / "client.properties"
    path.write_text(
        f"security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=viewer\nsasl.password={SECRET}\n"
    )
    return path


def make_dialog(qtbot, **initial) -> ConnectDialog:
    dialog = ConnectDialog(initial=KafkaSettings(**initial) if initial else None)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def fill(dialog: ConnectDialog, *, bootstrap="", topics="otlp_spans", format_name="auto", start="latest", config=""):
    dialog.bootstrap_edit.setText(bootstrap)
    dialog.topics_edit.setText(topics)
    dialog.format_box.setCurrentIndex(dialog.format_box.findData(format_name))
    dialog.start_box.setCurrentText(start)
    dialog.config_edit.setText(config)


def refused(dialog: ConnectDialog) -> str:
    """Press OK; assert the dialog stays open without settings and return the error it shows."""
    dialog.buttons.accepted.emit()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.isVisible()
    assert dialog.chosen is None
    assert dialog.error_label.isVisibleTo(dialog)
    return dialog.error_label.text()


def test_pieces_of_the_checks():
    assert parse_topics("otlp_spans, orders  payments,orders") == ("otlp_spans", "orders", "payments")
    assert bootstrap_problem("kafka-1:9092,kafka-2:9093") is None
    assert bootstrap_problem("SASL_SSL://kafka.example.com:9093") is None
    assert bootstrap_problem("[::1]:9092") is None
    assert "port 99999" in bootstrap_problem("kafka:99999")
    assert "is not HOST:PORT" in bootstrap_problem("kafka 1:9092")
    assert "empty entry" in bootstrap_problem("kafka:9092,,other:9092")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"bootstrap": ""}, "Brokers: enter HOST:PORT"),
        ({"bootstrap": "kafka:99999"}, "port 99999 is out of range"),
        ({"bootstrap": "kafka host:9092"}, "is not HOST:PORT"),
        ({"bootstrap": "kafka:9092", "topics": " , "}, "Topics: name at least one topic"),
        ({"bootstrap": "kafka:9092", "topics": "otlp/spans"}, "'otlp/spans' is not a topic name"),
        ({"bootstrap": "kafka:9092", "start": "yesterday"}, "Start: 'yesterday' is not a start"),
        ({"bootstrap": "kafka:9092", "start": "+5m"}, "Start: '+5m' is not a start"),
        ({"bootstrap": "kafka:9092", "start": "2100-01-01T00:00Z"}, "is in the future"),
        ({"bootstrap": "kafka:9092", "start": "2999-01-01T00:00Z"}, "out of range"),
        ({"bootstrap": "kafka:9092", "config": "/no/such/client.properties"}, "does not exist"),
    ],
)
def test_bad_fields_are_shown_and_ok_does_not_accept(qtbot, isolated_settings, fields, expected):
    dialog = make_dialog(qtbot)
    fill(dialog, **fields)
    assert expected in refused(dialog)
    assert QSettings().allKeys() == []  # nothing remembered from a refused dialog


def test_an_unknown_format_is_refused(qtbot, isolated_settings):
    dialog = make_dialog(qtbot, bootstrap="kafka:9092", format_name="thrift")
    assert dialog.format_box.currentData() == "thrift"
    assert "Format: 'thrift' is not one of auto, otlp_proto" in refused(dialog)
    dialog.format_box.setCurrentIndex(dialog.format_box.findData("otlp_json"))
    assert not dialog.error_label.isVisibleTo(dialog)  # the problem goes away as it is fixed
    dialog.buttons.accepted.emit()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.chosen.format_name == "otlp_json"


def test_a_properties_file_with_a_bad_line_is_refused(qtbot, isolated_settings, tmp_path):
    bad = tmp_path / "bad.properties"
    bad.write_text("security.protocol=SSL\nthis line has no separator\n")
    dialog = make_dialog(qtbot)
    fill(dialog, bootstrap="kafka:9092", config=str(bad))
    assert "bad.properties:2: expected key=value" in refused(dialog)


def test_ok_gives_the_settings_and_remembers_them_without_secrets(qtbot, isolated_settings, properties):
    dialog = make_dialog(qtbot)
    fill(
        dialog,
        bootstrap=" kafka-1:9092, kafka-2:9093 ",
        topics="otlp_spans, orders-spans",
        format_name="otlp_proto",
        start="-15m",
        config=str(properties),
    )
    note = dialog.config_note.text()
    assert "SASL_SSL" in note
    assert "sasl.password stays in the file" in note
    assert SECRET not in note
    assert "viewer" not in note
    dialog.buttons.accepted.emit()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.chosen == KafkaSettings(
        bootstrap="kafka-1:9092,kafka-2:9093",
        topics=("otlp_spans", "orders-spans"),
        format_name="otlp_proto",
        start="-15m",
        config_path=str(properties),
        workers=default_live_workers(),
    )
    stored = QSettings()
    assert {key: stored.value(key) for key in stored.allKeys()} == {
        f"{SETTINGS_PREFIX}bootstrap": "kafka-1:9092,kafka-2:9093",
        f"{SETTINGS_PREFIX}topics": "otlp_spans, orders-spans",
        f"{SETTINGS_PREFIX}format": "otlp_proto",
        f"{SETTINGS_PREFIX}start": "-15m",
        f"{SETTINGS_PREFIX}config_path": str(properties),
    }
    written = b"".join(path.read_bytes() for path in isolated_settings.rglob("*") if path.is_file())
    assert b"kafka-1:9092" in written  # the settings file is where we looked
    assert SECRET.encode() not in written
    assert b"sasl" not in written
    assert b"viewer" not in written

    again = make_dialog(qtbot)  # the next dialog starts from the remembered values
    assert again.bootstrap_edit.text() == "kafka-1:9092,kafka-2:9093"
    assert again.topics_edit.text() == "otlp_spans, orders-spans"
    assert again.format_box.currentData() == "otlp_proto"
    assert again.start_box.currentText() == "-15m"
    assert again.config_edit.text() == str(properties)


def test_defaults_are_the_collectors_topic_and_auto(qtbot, isolated_settings):
    dialog = make_dialog(qtbot)
    assert dialog.topics_edit.text() == "otlp_spans"
    assert dialog.format_box.currentData() == "auto"
    assert dialog.start_box.currentText() == "latest"
    QSettings().setValue(f"{SETTINGS_PREFIX}format", "no-longer-a-format")
    assert make_dialog(qtbot).format_box.currentData() == "auto"  # a stale remembered format falls back


def test_test_connection_lists_topics_without_blocking(qtbot, isolated_settings, kafka_broker):
    create_topic(KafkaSettings(bootstrap=kafka_broker.bootstrap), "dialog_spans", partitions=2)
    dialog = make_dialog(qtbot)
    fill(dialog, bootstrap=kafka_broker.bootstrap, topics="dialog_spans missing_topic")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: not dialog.testing, timeout=10_000)
    text = dialog.test_label.text()
    assert "Connected" in text
    assert "dialog_spans (2 partitions)" in text
    assert "Not there yet: missing_topic" in text
    assert dialog.test_button.isEnabled()


def test_test_connection_to_no_broker_says_so_and_the_ui_keeps_running(qtbot, isolated_settings):
    dialog = make_dialog(qtbot)
    dialog.probe_timeout_s = 1.5
    fill(dialog, bootstrap=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    dialog.test_button.click()
    assert time.monotonic() - started < 0.5  # asked on a thread: the click returns at once
    assert dialog.testing
    assert not dialog.test_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.testing, timeout=10_000)
    assert "Could not connect" in dialog.test_label.text()
    assert "Connection refused" in dialog.test_label.text()


def test_the_start_page_offers_kafka_and_opens_a_live_window(qtbot, isolated_settings, monkeypatch):
    opened = []
    monkeypatch.setattr("flowviz.ui.start_page.live_window", lambda settings, theme: opened.append(settings) or None)
    monkeypatch.setattr(StartPage, "_show", lambda self, window: None)
    chosen = KafkaSettings(bootstrap="kafka:9092")
    monkeypatch.setattr("flowviz.ui.start_page.ask_kafka_settings", lambda parent: chosen)
    page = StartPage()
    qtbot.addWidget(page)
    assert "Connect to Kafka" in page.connect_button.text()
    page.connect_button.click()
    assert opened == [chosen]
