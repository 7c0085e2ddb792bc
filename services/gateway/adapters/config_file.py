"""Reads the readiness configuration from a TOML file (services/gateway/readiness.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from services.common.settings import SettingsError
from services.gateway.domain.config import ReadinessConfig, config_from_dict

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "readiness.toml"


def read_config(path: Path = DEFAULT_PATH) -> ReadinessConfig:
    try:
        return config_from_dict(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValueError, KeyError) as error:
        raise SettingsError(f"readiness configuration {path}: {error}") from error
