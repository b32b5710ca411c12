"""Settings from the environment, read once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///opsbot.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class SettingError(RuntimeError):
    """An environment setting stops start-up; the message names it and says why."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class MissingSetting(SettingError):
    """A setting the chosen mode needs is not in the environment."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(name, f"{name} is not set: {why}")


class BadSetting(SettingError):
    """A setting whose value cannot be used."""

    def __init__(self, name: str, value: str, why: str) -> None:
        super().__init__(name, f"{name}={value}: {why}")


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    drop_dir: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    # OAuth mode (several workspaces): both set switch it on (see `oauth`).
    slack_client_id: str | None = None
    slack_client_secret: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        max_mb = float(env.get("OPSBOT_MAX_UPLOAD_MB") or 50)
        return cls(
            database_url=env.get("OPSBOT_DATABASE_URL") or DEFAULT_DATABASE_URL,
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=env.get("OPSBOT_SLACK_API_URL") or DEFAULT_SLACK_API_URL,
            drop_dir=env.get("OPSBOT_DROP_DIR") or None,
            max_upload_bytes=int(max_mb * 1024 * 1024),
            slack_client_id=env.get("SLACK_CLIENT_ID") or None,
            slack_client_secret=env.get("SLACK_CLIENT_SECRET") or None,
        )

    @property
    def oauth(self) -> bool:
        """OAuth mode: opsbot is installed into workspaces through /slack/install and posts
        with each workspace's own bot token; otherwise one SLACK_BOT_TOKEN serves one
        workspace (the default). MissingSetting when only one of the pair is set: a half
        configuration must not fall back to single-token mode silently."""
        if self.slack_client_id and self.slack_client_secret:
            return True
        if self.slack_client_id or self.slack_client_secret:
            missing = "SLACK_CLIENT_SECRET" if self.slack_client_id else "SLACK_CLIENT_ID"
            raise MissingSetting(missing, "OAuth mode needs both SLACK_CLIENT_ID and "
                                          "SLACK_CLIENT_SECRET (Basic Information -> App "
                                          "Credentials); unset both for one workspace")
        return False

    def require(self, name: str, why: str) -> str:
        """The value of an environment setting, or MissingSetting naming it."""
        attr = {
            "SLACK_BOT_TOKEN": "slack_bot_token",
            "SLACK_SIGNING_SECRET": "slack_signing_secret",
            "SLACK_APP_TOKEN": "slack_app_token",
            "OPSBOT_DROP_DIR": "drop_dir",
            "SLACK_CLIENT_ID": "slack_client_id",
            "SLACK_CLIENT_SECRET": "slack_client_secret",
        }[name]
        value = getattr(self, attr)
        if not value:
            raise MissingSetting(name, why)
        return value
