"""Why a TLS connection to an agency gateway failed, in one sentence an operator can act on.

`requests` reports every TLS failure as one `SSLError`; the `ssl` error under
it tells an expired certificate from one issued for another host, or by an
authority the hub does not trust, and a CA bundle that holds no certificate
from the gateway's own fault. Each sentence says what to mend and where
(`ARMS_SYNC_GATEWAY_CA_BUNDLE`, the gateway's URL, a clock). The certificate's
names are never repeated; OpenSSL's own words (fixed phrases, or a reason code
such as `WRONG_VERSION_NUMBER`) are given only where no sentence here fits.
"""

from __future__ import annotations

import ssl

# OpenSSL's verification results (X509_V_ERR_*) that have their own sentence.
CERT_NOT_YET_VALID = 9
CERT_HAS_EXPIRED = 10
DEPTH_ZERO_SELF_SIGNED_CERT = 18
SELF_SIGNED_CERT_IN_CHAIN = 19
UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
HOSTNAME_MISMATCH = 62
IP_ADDRESS_MISMATCH = 64
UNTRUSTED_ISSUER = frozenset(
    {
        DEPTH_ZERO_SELF_SIGNED_CERT,
        SELF_SIGNED_CERT_IN_CHAIN,
        UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    }
)
NOT_FOR_THIS_HOST = frozenset({HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH})
CA_BUNDLE_SETTING = "ARMS_SYNC_GATEWAY_CA_BUNDLE"
NO_CERTIFICATE_IN_BUNDLE = "NO_CERTIFICATE_OR_CRL_FOUND"
# A server answering in plain HTTP (a reply that is no TLS record), or closing at once.
NO_TLS_ANSWER = frozenset({"WRONG_VERSION_NUMBER", "UNEXPECTED_EOF_WHILE_READING"})


def tls_failure(agency: str, error: BaseException) -> str:
    """The sentence for a TLS failure (`requests`' `SSLError`) talking to `agency`'s gateway."""
    cause = _ssl_cause(error)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return _certificate_refused(agency, cause)
    return _handshake_failed(agency, getattr(cause, "reason", None))


def _certificate_refused(agency: str, cause: ssl.SSLCertVerificationError) -> str:
    """Why the gateway's certificate did not pass the hub's checks, and what to mend."""
    certificate = f"the {agency} gateway's TLS certificate"
    code = cause.verify_code
    if code == CERT_HAS_EXPIRED:
        return f"{certificate} has expired: the gateway must be given a current one."
    if code == CERT_NOT_YET_VALID:
        return (
            f"{certificate} is not valid yet: check this machine's clock and the "
            "gateway's certificate."
        )
    if code in NOT_FOR_THIS_HOST:
        return (
            f"{certificate} is not issued for the host in its URL: give the gateway's "
            "URL by a name (or address) its certificate names."
        )
    if code in UNTRUSTED_ISSUER:
        return (
            f"{certificate} is not issued by an authority this hub trusts: set "
            f"{CA_BUNDLE_SETTING} to the issuing authority's certificate (PEM)."
        )
    return f"{certificate} could not be verified ({_verify_words(cause)})."


def _handshake_failed(agency: str, reason: object) -> str:
    """A TLS failure other than the certificate's checks: the hub's CA bundle, a gateway
    answering in plain HTTP, or another handshake failure named by OpenSSL's reason."""
    if reason == NO_CERTIFICATE_IN_BUNDLE:
        return (
            f"the CA bundle this hub was given for the {agency} gateway ({CA_BUNDLE_SETTING}, "
            "else REQUESTS_CA_BUNDLE) holds no certificate in PEM form."
        )
    if reason in NO_TLS_ANSWER:
        return (
            f"the {agency} gateway did not answer in TLS ({reason}): if it serves plain "
            "HTTP, its URL must begin with http://, not https://."
        )
    named = f" ({reason})" if isinstance(reason, str) and reason.isupper() else ""
    return f"the TLS handshake with the {agency} gateway failed{named}."


def _ssl_cause(error: BaseException) -> BaseException | None:
    """The `ssl` error under `requests`' and `urllib3`'s wrappers, if one is there.

    `requests` keeps urllib3's error as its first argument, urllib3 its own
    `SSLError` as that error's `reason`, and that one the `ssl` error as its
    first argument.
    """
    seen: list[BaseException] = []
    pending: list[object] = [error]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or any(current is s for s in seen):
            continue
        if isinstance(current, ssl.SSLError):
            return current
        seen.append(current)
        pending.extend((*current.args, getattr(current, "reason", None), current.__cause__))
    return None


def _verify_words(cause: ssl.SSLCertVerificationError) -> str:
    """OpenSSL's words for a verification result without a sentence of its own."""
    words = cause.verify_message
    return words if isinstance(words, str) and words else f"verification code {cause.verify_code}"
