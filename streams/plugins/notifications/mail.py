"""io.kestra.plugin.notifications.mail.MailSend: an email over SMTP, with the standard
library's smtplib (run in a thread).

`transportStrategy` as Kestra's (Simple Java Mail): SMTPS (TLS from the first byte, the
default), SMTP_TLS (STARTTLS) or SMTP (plain, e.g. a relay on the same host). A refused
login, a refused recipient or a server that cannot be reached fails the task run with
the server's own reply (its code and text).
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import getaddresses
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.states import State
from schemas.storage import StorageError
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.notifications.webhooks import KESTRA_NOTIFICATIONS

_DEFAULT_TEXT = "Please view this email in a modern email client"
_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
_PORTS = {"SMTPS": 465, "SMTP_TLS": 587, "SMTP": 25}


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    uri: str
    name: str
    contentType: str = "application/octet-stream"


class MailError(Exception):
    pass


def _addresses(value: str | None, what: str) -> list[str]:
    """Kestra's `a@x; b@y` (commas work too); every one must look like an address."""
    if not value:
        return []
    found = [addr for _, addr in getaddresses([value.replace(";", ",")]) if addr]
    bad = [a for a in found if "@" not in a]
    if bad or not found:
        raise MailError(f"`{what}` has no valid email address: {value!r}")
    return found


def _attachments(value: list[Attachment] | str | None, what: str) -> list[Attachment]:
    """A list, or its JSON text (`{{ outputs.x | toJson }}`), or one object's."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise MailError(f"`{what}` is not a list of attachments: {exc}") from None
    items = parsed if isinstance(parsed, list) else [parsed]
    try:
        return [Attachment.model_validate(item) for item in items]
    except ValueError as exc:
        raise MailError(f"`{what}`: {exc}") from None


class MailSend(WorkerTask):
    TYPE: ClassVar[str] = "notifications.mail.MailSend"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA_NOTIFICATIONS}.mail.MailSend",)
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    transportStrategy: Literal["SMTP", "SMTPS", "SMTP_TLS"] = "SMTPS"
    sessionTimeout: int = Field(default=10_000, ge=1)
    verifyServerIdentity: bool = True
    trustedHosts: list[str] | None = None
    from_: str = Field(alias="from")
    to: str
    cc: str | None = None
    subject: str | None = None
    htmlTextContent: str | None = None
    plainTextContent: str | None = None
    attachments: list[Attachment] | str | None = None
    embeddedImages: list[Attachment] | str | None = None

    async def _message(self, ctx: WorkerContext) -> tuple[EmailMessage, list[str]]:
        to = _addresses(self.to, "to")
        cc = _addresses(self.cc, "cc")
        sender = _addresses(self.from_, "from")
        message = EmailMessage()
        message["From"] = self.from_
        message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        if self.subject is not None:
            message["Subject"] = self.subject
        message["Return-Receipt-To"] = sender[0]
        message.set_content(self.plainTextContent or _DEFAULT_TEXT)
        if self.htmlTextContent is not None:
            message.add_alternative(self.htmlTextContent, subtype="html")
        files = [
            *_attachments(self.attachments, "attachments"),
            *_attachments(self.embeddedImages, "embeddedImages"),
        ]
        for item in files:
            data = await self._read(ctx, item)
            kind = item.contentType or mimetypes.guess_type(item.name)[0]
            main, _, sub = (kind or "application/octet-stream").partition("/")
            message.add_attachment(
                data, maintype=main, subtype=sub or "octet-stream", filename=item.name
            )
        return message, [*to, *cc]

    async def _read(self, ctx: WorkerContext, item: Attachment) -> bytes:
        if ctx.storage is None:
            raise MailError("this worker has no storage to read attachments from")
        if not item.uri.startswith(f"kestra://{ctx.tenant}/"):
            raise MailError(f"attachment {item.name!r}: {item.uri} is not a file of this tenant")
        try:
            return await asyncio.to_thread(ctx.storage.get_bytes, item.uri, _MAX_ATTACHMENT_BYTES)
        except StorageError as exc:
            raise MailError(f"attachment {item.name!r}: {exc}") from None

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        # Kestra's trustedHosts: these hosts' certificates are trusted as they are.
        trusted = self.trustedHosts is not None and self.host in self.trustedHosts
        if not self.verifyServerIdentity or trusted:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _send(self, message: EmailMessage, recipients: list[str]) -> None:
        port = self.port or _PORTS[self.transportStrategy]
        timeout = self.sessionTimeout / 1000.0
        where = f"{self.host}:{port}"
        try:
            client: smtplib.SMTP
            if self.transportStrategy == "SMTPS":
                client = smtplib.SMTP_SSL(self.host, port, timeout=timeout, context=self._tls())
            else:
                client = smtplib.SMTP(self.host, port, timeout=timeout)
            with client:
                if self.transportStrategy == "SMTP_TLS":
                    client.starttls(context=self._tls())
                if self.username:
                    client.login(self.username, self.password or "")
                refused = client.send_message(message, to_addrs=recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"SMTP server {where} refused the login: {_reply(exc)}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            refusals = "; ".join(f"{a}: {_reply_of(*r)}" for a, r in exc.recipients.items())
            raise MailError(f"SMTP server {where} refused every recipient: {refusals}") from None
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"SMTP server {where} answered {_reply(exc)}") from None
        except smtplib.SMTPException as exc:
            raise MailError(f"SMTP server {where}: {exc}") from None
        except (OSError, ssl.SSLError) as exc:
            raise MailError(f"could not talk to SMTP server {where}: {exc}") from None
        if refused:
            refusals = "; ".join(f"{a}: {_reply_of(*r)}" for a, r in refused.items())
            raise MailError(f"SMTP server {where} refused some recipients: {refusals}")

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            message, recipients = await self._message(ctx)
            await ctx.log("DEBUG", f"sending an email to {', '.join(recipients)}")
            await asyncio.to_thread(self._send, message, recipients)
        except MailError as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        await ctx.log("INFO", f"email sent to {', '.join(recipients)} via {self.host}")
        return Outcome(State.SUCCESS)


def _reply_of(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    return f"{code} {words}"


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return _reply_of(exc.smtp_code, exc.smtp_error)


__all__ = ["Attachment", "MailSend"]
