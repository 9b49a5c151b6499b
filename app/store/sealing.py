"""Personal data at rest: sealed fields and keyed lookups, so a copied database file alone
reveals no names, ID numbers, phones or health answers.

Envelope encryption. Each (site, day) has its own random data key (Fernet), stored in
`data_keys` wrapped by the master key(s) from the environment (`SITEFLOW_DATA_KEYS`,
newest first; `cryptography`'s MultiFernet). A sealed value is {"sealed": "<data key id>:<token>"}.
Rotating the master key rewraps the data keys only; the append-only events are never
rewritten. ID numbers are found again through an HMAC-SHA256 under `SITEFLOW_LOOKUP_KEY`.
See docs/SECURITY.md.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Connection, Engine, insert, select, update

from .database import WRITE
from .tables import data_keys

SEALED = "sealed"
# What is sealed: a whole person, and these fields of a consent record.
CONSENT_FIELDS = ("answers", "signature")
# The nested record of a `reverted` event (the visit fields it puts back, a consent among them).
RESTORE = "restore"
# Opened values kept in memory (about a busy city's open visits; cleared when full).
OPENED_CACHE = 50_000


class SealingKeyError(RuntimeError):
    """A key is missing, malformed or does not open what it should."""


def parse_master_keys(value: str) -> list[bytes]:
    keys = [part.strip().encode() for part in value.split(",") if part.strip()]
    if not keys:
        raise SealingKeyError("SITEFLOW_DATA_KEYS is empty.")
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise SealingKeyError(f"SITEFLOW_DATA_KEYS: key {number} is not a Fernet key "
                                  "(32 url-safe base64 bytes; `siteflow keys generate` makes one).") from None
    return keys


def parse_lookup_key(value: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(value.strip().encode() + b"=" * (-len(value.strip()) % 4))
    except (ValueError, TypeError):
        raise SealingKeyError("SITEFLOW_LOOKUP_KEY is not url-safe base64.") from None
    if len(key) < 32:
        raise SealingKeyError("SITEFLOW_LOOKUP_KEY must hold at least 32 random bytes.")
    return key


def generate_master_key() -> str:
    return Fernet.generate_key().decode()


def generate_lookup_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def development_keys(path: Path) -> tuple[str, str]:
    """(data keys, lookup key) kept in a file beside the database, made on first use.

    For the embedded mode only: production takes both from the environment (config.check).
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"SITEFLOW_DATA_KEYS": generate_master_key(), "SITEFLOW_LOOKUP_KEY": generate_lookup_key()}, out)
        try:
            os.link(temp, path)  # whoever links first wins; the others read theirs
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    keys = json.loads(path.read_text())
    return keys["SITEFLOW_DATA_KEYS"], keys["SITEFLOW_LOOKUP_KEY"]


def sealer_from_config(config: dict, instance_path: str) -> Sealer:
    data_keys_value, lookup_value = config.get("DATA_KEYS"), config.get("LOOKUP_KEY")
    if not data_keys_value or not lookup_value:
        data_keys_value, lookup_value = development_keys(Path(instance_path) / "keys.json")
    return Sealer(parse_master_keys(data_keys_value), parse_lookup_key(lookup_value))


class Sealer:
    def __init__(self, master_keys: list[bytes], lookup_key: bytes):
        self._master = MultiFernet([Fernet(key) for key in master_keys])
        self._lookup_key = lookup_key
        self._by_id: dict[int, Fernet] = {}
        self._by_day: dict[tuple[str, date], int] = {}
        self._opened: dict[str, bytes] = {}
        self._lock = threading.Lock()

    # --- lookups ---
    def lookup(self, key: str) -> str:
        """The keyed hash stored instead of a document number, for finding a person again."""
        return hmac.new(self._lookup_key, key.encode(), hashlib.sha256).hexdigest()

    # --- data keys ---
    def day_key(self, conn: Connection, site_id: str, day: date, now: datetime) -> tuple[int, Fernet]:
        """The data key of (site, day), made inside the caller's write transaction if new.

        Only keys read back from the database are cached: a key made in a transaction that
        is rolled back must never be used again. Ask once per transaction and day (as
        SiteTransaction does), so a key found here was committed by an earlier transaction.
        """
        cached = self._by_day.get((site_id, day))
        if cached is not None:
            return cached, self._by_id[cached]
        row = conn.execute(select(data_keys.c.id, data_keys.c.wrapped).where(
            data_keys.c.site_id == site_id, data_keys.c.day == day)).first()
        if row is None:
            fresh = Fernet.generate_key()
            key_id = int(conn.execute(insert(data_keys).values(
                site_id=site_id, day=day, wrapped=self._master.encrypt(fresh).decode(), created_at=now,
            )).inserted_primary_key[0])
            return key_id, Fernet(fresh)
        fernet = self._unwrap(row.id, row.wrapped, site_id, day)
        with self._lock:
            self._by_id[row.id] = fernet
            self._by_day[(site_id, day)] = row.id
        return row.id, fernet

    def _unwrap(self, key_id: int, wrapped: str, site_id: str, day: date) -> Fernet:
        try:
            return Fernet(self._master.decrypt(wrapped.encode()))
        except InvalidToken:
            raise SealingKeyError(
                f"Data key {key_id} (site {site_id}, {day}) cannot be unwrapped with SITEFLOW_DATA_KEYS: "
                "the master key it was wrapped with is not configured."
            ) from None

    def _fernet(self, engine_or_conn, key_id: int) -> Fernet:
        fernet = self._by_id.get(key_id)
        if fernet is not None:
            return fernet
        query = select(data_keys).where(data_keys.c.id == key_id)
        committed = isinstance(engine_or_conn, Engine)
        if committed:
            with engine_or_conn.connect() as conn:
                row = conn.execute(query).first()
        else:
            row = engine_or_conn.execute(query).first()
        if row is None:
            raise SealingKeyError(f"Data key {key_id} does not exist (deleted: its data is unreadable).")
        fernet = self._unwrap(row.id, row.wrapped, row.site_id, row.day)
        # A write transaction may be reading the key it has just made: cache that only once it is
        # read back committed. SQLite hands a rolled-back id out again (AUTOINCREMENT included).
        if committed:
            with self._lock:
                self._by_id[key_id] = fernet
        return fernet

    # --- values ---
    def seal(self, key: tuple[int, Fernet], value: Any) -> dict[str, str]:
        key_id, fernet = key
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return {SEALED: f"{key_id}:{fernet.encrypt(plain).decode()}"}

    def unseal(self, source, sealed: dict[str, str]) -> Any:
        # Snapshots read the same open visits again and again: the opened bytes of recent values
        # are kept (a fresh object is parsed every time, so no caller shares one).
        value = sealed[SEALED]
        plain = self._opened.get(value)
        if plain is None:
            key_part, _, token = value.partition(":")
            fernet = self._fernet(source, int(key_part))
            try:
                plain = fernet.decrypt(token.encode())
            except InvalidToken:
                raise SealingKeyError(f"A value sealed with data key {key_part} does not open: it was altered.") from None
            with self._lock:
                if len(self._opened) >= OPENED_CACHE:
                    self._opened.clear()
                self._opened[value] = plain
        return json.loads(plain)

    # --- master key rotation ---
    def rewrap_all(self, engine: Engine) -> int:
        """Rewrap every data key under the primary master key; the sealed values stay as they are."""
        count = 0
        # The write lock up front (SQLite: BEGIN IMMEDIATE), so a running server's writes wait
        # instead of failing the rotation halfway with "database is locked".
        with engine.execution_options(**WRITE).begin() as conn:
            for row in conn.execute(select(data_keys.c.id, data_keys.c.wrapped, data_keys.c.site_id,
                                           data_keys.c.day)).all():
                self._unwrap(row.id, row.wrapped, row.site_id, row.day)  # a clear error names the key
                rewrapped = self._master.rotate(row.wrapped.encode()).decode()
                conn.execute(update(data_keys).where(data_keys.c.id == row.id).values(wrapped=rewrapped))
                count += 1
        return count


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {SEALED}


# --- where personal data sits in the stored JSON ----------------------------------------------

def seal_record(sealer: Sealer, key: tuple[int, Fernet], data: dict[str, Any]) -> dict[str, Any]:
    """Event data or a visit's JSON with its personal parts sealed (the input is not changed)."""
    sealed = dict(data)
    if isinstance(sealed.get("person"), dict):
        sealed["person"] = sealer.seal(key, sealed["person"])
    consent = sealed.get("consent")
    if isinstance(consent, dict) and any(name in consent for name in CONSENT_FIELDS):
        private = {name: consent[name] for name in CONSENT_FIELDS if name in consent}
        sealed["consent"] = {name: value for name, value in consent.items() if name not in CONSENT_FIELDS}
        sealed["consent"][SEALED] = sealer.seal(key, private)[SEALED]
    if isinstance(sealed.get(RESTORE), dict):  # a `reverted` event puts back a visit's consent
        sealed[RESTORE] = seal_record(sealer, key, sealed[RESTORE])
    return sealed


def unseal_record(sealer: Sealer, source, data: dict[str, Any]) -> dict[str, Any]:
    """The inverse of seal_record; plain (older) records pass through unchanged."""
    if not _has_sealed(data):
        return data
    plain = dict(data)
    if is_sealed(plain.get("person")):
        plain["person"] = sealer.unseal(source, plain["person"])
    consent = plain.get("consent")
    if isinstance(consent, dict) and SEALED in consent:
        consent = dict(consent)
        private = sealer.unseal(source, {SEALED: consent.pop(SEALED)})
        plain["consent"] = {**consent, **private}
    if isinstance(plain.get(RESTORE), dict):
        plain[RESTORE] = unseal_record(sealer, source, plain[RESTORE])
    return plain


def _has_sealed(data: dict[str, Any]) -> bool:
    consent = data.get("consent")
    restore = data.get(RESTORE)
    return (
        is_sealed(data.get("person")) or (isinstance(consent, dict) and SEALED in consent)
        or (isinstance(restore, dict) and _has_sealed(restore))
    )
