"""Configuration of the Bloomreach Engagement emulator.

Everything the emulator can be told lives here: projects (by token), API keys with their
group permissions, limits, consent categories and the switches for behaviour the public
documentation leaves open (each switch names the spec's [inferred] choice it controls).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.faults import Fault

DEFAULT_PROJECT_TOKEN = "00000000-0000-4000-8000-00000000b10e"  # noqa: S105 - not a secret
DEFAULT_KEY_ID = "sandbox-key-id"
DEFAULT_SECRET = "sandbox-secret"  # noqa: S105 - a well-known sandbox credential
DEFAULT_PUBLIC_TOKEN = "sandbox-public-token"  # noqa: S105 - a well-known sandbox credential
DEFAULT_CONSENT_CATEGORIES = ("newsletter", "sms")

# Properties the emulator treats as flagged "Private" (PII) in the Data Manager: anonymize
# removes them. Projects may override the set.
DEFAULT_PRIVATE_PROPERTIES = frozenset(
    {
        "email",
        "phone",
        "first_name",
        "last_name",
        "birth_date",
        "address",
        "street",
        "city",
        "zip",
        "postal_code",
        "mobile",
    }
)


@dataclass(frozen=True)
class Grant:
    """A Get/Set toggle granular per property name or event type; ``all`` = every name."""

    names: frozenset[str] = frozenset()
    all: bool = False

    def allows(self, name: str) -> bool:
        return self.all or name in self.names

    @classmethod
    def every(cls) -> Grant:
        return cls(all=True)

    @classmethod
    def none(cls) -> Grant:
        return cls()

    @classmethod
    def of(cls, *names: str) -> Grant:
        return cls(names=frozenset(names))

    @classmethod
    def from_json(cls, value: Any) -> Grant:
        """``"*"`` / ``true`` = all names, ``false`` / ``null`` = none, a list = those names."""
        if value == "*" or value is True:
            return cls.every()
        if value is None or value is False:
            return cls.none()
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return cls.of(*value)
        raise ValueError(f"invalid grant: {value!r}")

    def to_json(self) -> Any:
        return "*" if self.all else sorted(self.names)


@dataclass(frozen=True)
class Permissions:
    """The "Group permissions" of an API group (all Bloomreach groups start with none)."""

    customer_properties_get: Grant = field(default_factory=Grant.every)
    customer_properties_set: Grant = field(default_factory=Grant.every)
    events_get: Grant = field(default_factory=Grant.every)  # "consent" governs consent reads
    events_set: Grant = field(default_factory=Grant.every)
    export_customer: bool = True  # GDPR > Export customer (export-one)
    export_customers: bool = True  # GDPR > Export customers (events export uses events_get)
    anonymize_customer: bool = True  # GDPR > Anonymize customer
    analyses_get: bool = True  # segmentations / aggregates in the attributes endpoint

    @classmethod
    def full(cls) -> Permissions:
        return cls()

    @classmethod
    def none(cls) -> Permissions:
        empty = Grant.none()
        return cls(
            customer_properties_get=empty,
            customer_properties_set=empty,
            events_get=empty,
            events_set=empty,
            export_customer=False,
            export_customers=False,
            anonymize_customer=False,
            analyses_get=False,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Permissions:
        grants = {
            "customer_properties_get",
            "customer_properties_set",
            "events_get",
            "events_set",
        }
        flags = {"export_customer", "export_customers", "anonymize_customer", "analyses_get"}
        unknown = set(data) - grants - flags
        if unknown:
            raise ValueError(f"unknown permission fields: {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            kwargs[name] = Grant.from_json(value) if name in grants else bool(value)
        return cls(**kwargs)


@dataclass(frozen=True)
class ApiKey:
    """A private key (Basic ``key_id:secret``) or, with ``secret=None``, a public API token
    (``Authorization: Token <key_id>`` or ``?access_token=<key_id>``)."""

    key_id: str
    secret: str | None
    projects: frozenset[str] | None = None  # None = every configured project
    permissions: Permissions = field(default_factory=Permissions.full)

    @property
    def public(self) -> bool:
        return self.secret is None

    def may_use(self, project_token: str) -> bool:
        return self.projects is None or project_token in self.projects


@dataclass(frozen=True)
class ConsentCategory:
    id: str
    name: str | None = None
    description: str | None = None
    legitimate_interest: bool = False
    sources: Mapping[str, bool] = field(
        default_factory=lambda: {
            "crm": True,
            "import": True,
            "list_unsubscribe": True,
            "page": True,
            "private_api": True,
            "public_api": False,
            "scenario": True,
            "sms_reply": True,
        }
    )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "legitimate_interest": self.legitimate_interest,
            "sources": dict(self.sources),
            "translations": {
                "": {"name": self.name or self.id.replace("_", " ").title(), "description": None}
            },
        }


@dataclass(frozen=True)
class ProjectConfig:
    token: str
    hard_ids: tuple[str, ...] = ("registered",)
    soft_ids: tuple[str, ...] = ("cookie", "email_id", "phone_id")
    consent_categories: tuple[ConsentCategory, ...] = tuple(
        ConsentCategory(c) for c in DEFAULT_CONSENT_CATEGORIES
    )
    private_properties: frozenset[str] = DEFAULT_PRIVATE_PROPERTIES

    def category(self, category_id: str) -> ConsentCategory | None:
        for category in self.consent_categories:
            if category.id == category_id:
                return category
        return None


@dataclass(frozen=True)
class Limits:
    """Documented limits; "< N" in the docs means a value of exactly N is already rejected."""

    max_batch_commands: int = 50
    max_message_bytes: int = 800 * 1024
    max_property_value_bytes: int = 16 * 1024
    max_event_properties: int = 255
    max_customer_attributes: int = 255  # per project; new attributes past it are dropped
    max_soft_id_values: int = 64
    max_request_bytes: int = 64 * 1024 * 1024  # transport cap; no batch byte limit documented


@dataclass
class BloomreachConfig:
    projects: dict[str, ProjectConfig]
    api_keys: tuple[ApiKey, ...]
    limits: Limits = field(default_factory=Limits)
    state_file: Path | None = None
    save_interval_s: float = 1.0
    requests_per_second: float | None = None
    faults: dict[str, Fault] = field(default_factory=dict)
    seed: int | None = None
    # [inferred] Single-endpoint validation errors: the docs allow 4xx or 200; 400 is stricter.
    validation_error_status: int = 400
    # [inferred] Attributes for an unknown customer: 200 with null values (default) or 404.
    attributes_unknown_customer_404: bool = False
    # [documented] batch commands are not executed in order: shuffle execution (stricter).
    shuffle_batch: bool = True
    # [inferred] Reject POST bodies not sent as ``Content-Type: application/json`` (stricter).
    require_json_content_type: bool = True
    # [inferred] Reject consent events for unknown categories or categories whose ``sources``
    # do not allow the caller's API type (private_api / public_api).
    strict_consent_categories: bool = True
    # [inferred] Optional ``Retry-After`` header (seconds) on rate-limit 429s; off by default.
    rate_limit_retry_after_s: float | None = None

    @classmethod
    def sandbox(
        cls,
        project_tokens: Iterable[str] = (DEFAULT_PROJECT_TOKEN,),
        credentials: Iterable[tuple[str, str]] = ((DEFAULT_KEY_ID, DEFAULT_SECRET),),
        public_tokens: Iterable[str] = (DEFAULT_PUBLIC_TOKEN,),
        consent_categories: Iterable[str] = DEFAULT_CONSENT_CATEGORIES,
        **kwargs: Any,
    ) -> BloomreachConfig:
        """A ready-to-use config: full-permission private keys on every project."""
        categories = tuple(ConsentCategory(c) for c in consent_categories)
        projects = {
            t: ProjectConfig(token=t, consent_categories=categories) for t in project_tokens
        }
        keys = [ApiKey(key_id=k, secret=s) for k, s in credentials]
        keys += [ApiKey(key_id=t, secret=None) for t in public_tokens]
        return cls(projects=projects, api_keys=tuple(keys), **kwargs)

    def key(self, key_id: str) -> ApiKey | None:
        for key in self.api_keys:
            if key.key_id == key_id:
                return key
        return None
