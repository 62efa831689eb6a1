"""POST /inbound/raw: a raw RFC 5322 message, signed with HMAC-SHA256 of INBOUND_SECRET."""

import hashlib
import hmac

from flask import abort, current_app, jsonify, request

from webapp.extensions import csrf
from webapp.receiving import bp
from webapp.receiving.receive import receive
from webapp.request_limits import allow_bytes
from webapp.services import mail_domain


def signature_ok(body: bytes, header: str | None) -> bool:
    """Check `X-Hiremail-Signature: sha256=<hex HMAC of the body>` in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    secret = mail_domain().secret.encode()
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len("sha256=") :].strip().lower(), expected)


@bp.route("/inbound/raw", methods=["POST"])
@csrf.exempt  # machines sign the body instead
@allow_bytes("INBOUND_MAX_REQUEST_BYTES")
def raw():
    """Store a raw message from a mail provider's webhook; 202 once it is committed."""
    limit = current_app.config["INBOUND_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        abort(413)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        abort(413)
    if not signature_ok(body, request.headers.get("X-Hiremail-Signature")):
        return jsonify(error="bad or missing signature"), 401
    if not body.strip():
        return jsonify(error="empty message"), 400
    recipients = [a.strip() for a in request.args.getlist("to") if a.strip()]
    message_id = receive(body, "webhook", envelope_from=request.args.get("from"), envelope_to=recipients)
    return jsonify(id=message_id, status="stored"), 202
