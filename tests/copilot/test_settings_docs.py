from pathlib import Path

from copilot.settings import CopilotSettings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "copilot.md"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    for name in CopilotSettings.model_fields:
        assert f"`CREDIT_COPILOT_{name.upper()}`" in text, name
