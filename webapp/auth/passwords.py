"""The password check of a login, in the same time whether the account exists or not."""

from werkzeug.security import check_password_hash, generate_password_hash

from webapp.models import User

# Hashed like every real password (Werkzeug's default method and cost), so that checking a
# password against it takes as long as against an account's: a failed login answers in the
# same time whether the account exists, is deactivated or not (issue 11: 0.3 s vs 0.006 s).
DUMMY_HASH = generate_password_hash("no account has this password")


def password_ok(user: User | None, password: str) -> bool:
    """Whether `password` signs `user` in; exactly one password hash is checked whatever the case."""
    if user is None or not user.is_active:
        check_password_hash(DUMMY_HASH, password)
        return False
    return user.check_password(password)
