"""TLS files the user names: each bad one is a TlsFileError naming the file and what is wrong with it.

otlp_tls/ holds a self-signed pair (cert.pem, key.pem), another RSA key (other_key.pem) and key.pem's
twin encrypted with a passphrase (encrypted_key.pem), made with `openssl genpkey` / `openssl pkey -aes256`.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from flowviz.sources.tls_files import TlsFileError, client_context, server_context, ssl_error_text

TLS_DIR = Path(__file__).parent / "otlp_tls"
CERT, KEY = str(TLS_DIR / "cert.pem"), str(TLS_DIR / "key.pem")
NO_CERTIFICATE = "[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl found"


@pytest.fixture
def junk(tmp_path: Path) -> str:
    path = tmp_path / "junk.pem"
    path.write_text("not a PEM file\n")
    return str(path)


def test_a_good_pair_serves_and_a_ca_file_verifies():
    assert server_context(CERT, KEY).protocol == ssl.PROTOCOL_TLS_SERVER
    context = client_context(CERT)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1  # only the file's, not the system's


def test_missing_empty_and_folder_name_the_file(tmp_path: Path):
    with pytest.raises(TlsFileError) as missing:
        server_context(CERT, "/nope.key")
    assert str(missing.value) == "/nope.key: No such file or directory"
    (tmp_path / "empty.pem").write_text("\n")
    with pytest.raises(TlsFileError) as empty:
        client_context(str(tmp_path / "empty.pem"))
    assert str(empty.value) == f"{tmp_path / 'empty.pem'}: empty (expected PEM)"
    with pytest.raises(TlsFileError) as folder:
        server_context(str(tmp_path), KEY)
    assert str(folder.value) == f"{tmp_path}: Is a directory"


def test_what_is_wrong_inside_a_file_names_that_file(junk: str):
    cases = {
        (junk, KEY): f"{junk}: not a certificate in PEM: {NO_CERTIFICATE}",
        (CERT, junk): f"{junk}: not a private key in PEM: [SSL] PEM lib",
        (CERT, str(TLS_DIR / "other_key.pem")): f"{TLS_DIR / 'other_key.pem'}: not the key of {CERT}: "
        "[X509: KEY_VALUES_MISMATCH] key values mismatch",
        (CERT, str(TLS_DIR / "encrypted_key.pem")): f"{TLS_DIR / 'encrypted_key.pem'}: the key is encrypted: "
        "give it unencrypted (PEM)",  # never a passphrase prompt on the terminal
    }
    for (cert, key), message in cases.items():
        with pytest.raises(TlsFileError) as error:
            server_context(cert, key)
        assert str(error.value) == message
        with pytest.raises(TlsFileError) as error:  # a client certificate: the same words
            client_context(None, cert, key)
        assert str(error.value) == message
    with pytest.raises(TlsFileError) as ca:
        client_context(junk)
    assert str(ca.value) == f"{junk}: not a CA bundle in PEM: {NO_CERTIFICATE}"


def test_ssl_error_text_drops_the_source_position():
    assert ssl_error_text(ssl.SSLError(1, "[SSL] PEM lib (_ssl.c:3926)")) == "[SSL] PEM lib"
