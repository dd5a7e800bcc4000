"""TLS files the user names (a CA bundle, a certificate and its key) in an `ssl.SSLContext`, or one clear error.

Every problem is a `TlsFileError` whose message names the file at fault and says what is wrong with it
(missing, unreadable, empty, no certificate in it, no key in it, an encrypted key, a key that is not the
certificate's), so the OTLP receiver (both protocols) and the Prometheus client refuse bad files alike,
before anything listens or connects.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path

_SOURCE_LINE = re.compile(r"\s*\(_ssl\.c:\d+\)$")  # where in CPython's _ssl.c it failed: nothing for a user
_MISMATCH_REASONS = ("KEY_VALUES_MISMATCH", "NO_CERTIFICATE_ASSIGNED")  # a key of another certificate / key type


class TlsFileError(ValueError):
    """A TLS file that is missing, unreadable or not what it should be; the message starts with its path."""


class _EncryptedKey(Exception):
    """Raised by the password callback: flowviz never prompts for a key's passphrase."""


def ssl_error_text(error: ssl.SSLError) -> str:
    """OpenSSL's reason without CPython's source position: `[X509: KEY_VALUES_MISMATCH] key values mismatch`."""
    return _SOURCE_LINE.sub("", str(error))


def read_tls_file(path: str) -> bytes:
    """The file's bytes; TlsFileError naming it when it is missing, unreadable or empty."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise TlsFileError(f"{path}: {error.strerror or error}") from None
    if not data.strip():
        raise TlsFileError(f"{path}: empty (expected PEM)")
    return data


def _check_has_certificate(path: str, what: str) -> None:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except ssl.SSLError as error:
        raise TlsFileError(f"{path}: not {what} in PEM: {ssl_error_text(error)}") from None


def load_cert_and_key(context: ssl.SSLContext, cert_path: str, key_path: str) -> None:
    """`context.load_cert_chain(cert_path, key_path)`, or TlsFileError naming the file at fault."""
    read_tls_file(cert_path)
    read_tls_file(key_path)

    def no_passphrase() -> bytes:
        raise _EncryptedKey

    try:
        context.load_cert_chain(cert_path, key_path, password=no_passphrase)
    except _EncryptedKey:
        raise TlsFileError(f"{key_path}: the key is encrypted: give it unencrypted (PEM)") from None
    except ssl.SSLError as error:
        if getattr(error, "reason", None) in _MISMATCH_REASONS:
            raise TlsFileError(f"{key_path}: not the key of {cert_path}: {ssl_error_text(error)}") from None
        _check_has_certificate(cert_path, "a certificate")
        raise TlsFileError(f"{key_path}: not a private key in PEM: {ssl_error_text(error)}") from None
    except OSError as error:  # read between the check and the load: gone, or not a file
        raise TlsFileError(f"{error.filename or cert_path}: {error.strerror or error}") from None


def server_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    """A TLS server context serving `cert_path` with `key_path`; TlsFileError when either is wrong."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    load_cert_and_key(context, cert_path, key_path)
    return context


def client_context(
    ca_path: str | None = None, cert_path: str | None = None, key_path: str | None = None
) -> ssl.SSLContext:
    """A verifying TLS client context (the system's CAs, or only `ca_path`'s), with a client certificate when
    both `cert_path` and `key_path` are given; TlsFileError naming the file at fault."""
    if ca_path:
        read_tls_file(ca_path)
        _check_has_certificate(ca_path, "a CA bundle")
    try:
        context = ssl.create_default_context(cafile=ca_path or None)
    except (ssl.SSLError, OSError) as error:
        text = ssl_error_text(error) if isinstance(error, ssl.SSLError) else error.strerror or str(error)
        raise TlsFileError(f"{ca_path}: {text}") from None
    if cert_path and key_path:
        load_cert_and_key(context, cert_path, key_path)
    return context
